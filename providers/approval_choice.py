"""Which pending mirroring request is the mirror this stack installed: a pure function of the
pending requests for its base URL and the Server ID the mirror itself reported.

Anyone can send the primary a request naming our base URL, our display name and our version, so
none of those ties a request to the mirror. Only its Server ID does: the mirror is asked for it
through its base URL (`admin/license`), and the vendor's document gives a request that id as
`mirrorId`. Without it nothing is chosen: there is no weaker tie to fall back on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .answers import RestMirroringRequest


@dataclass(frozen=True)
class Choice:
    """`request`: the one to accept (None: none). `ambiguous`: several carry the Server ID, so none
    can be told to be the mirror's. `untied`: the pending requests that are not the mirror's."""

    request: Optional[RestMirroringRequest]
    ambiguous: tuple[RestMirroringRequest, ...] = ()
    untied: tuple[RestMirroringRequest, ...] = ()


def choose(pending: list[RestMirroringRequest] | tuple[RestMirroringRequest, ...], server_id: Optional[str]) -> Choice:
    """The pending request (all for the mirror's base URL) whose mirrorId is `server_id`, the Server
    ID the mirror reported; no Server ID, no choice."""
    if not server_id:
        return Choice(None, untied=tuple(pending))
    ours = tuple(r for r in pending if r.mirrorId == server_id)
    untied = tuple(r for r in pending if r.mirrorId != server_id)
    if len(ours) > 1:
        return Choice(None, ambiguous=ours, untied=untied)
    return Choice(ours[0] if ours else None, untied=untied)
