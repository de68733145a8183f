"""A mirror as its REST API shows it, reached through its base URL (so through its load balancer,
or nginx): whether it answers, which nodes its farm lists on which version, and its upgrade mode.

- `GET /rest/mirroring/latest/farmNodes`: `[RestClusterNode{address{address, port}, buildVersion, ...}]`.
- `POST /rest/mirroring/latest/zdu/start` / `zdu/end`: upgrade mode on / off, answering
  `RestRollingUpgradeState{rollingUpgradeEnabled, version}`; the vendor's RollingUpgradeService
  refuses to end it while the nodes run different versions. There is no call that reads it.
- A node's own version: `GET /rest/api/latest/application-properties` (`version`).
- Whether it serves: `GET /status` (unauthenticated) answers `{"state": "RUNNING"}` (vendor KB:
  STARTING answers 503, RUNNING 200; docs/bitbucket-facts.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from . import clock
from .answers import RestApplicationProperties, RestClusterNode
from .errors import BitbucketError, Conflict, DeadlineExceeded, NotFound, RolloutError, ServerUnavailable, Unreachable
from .messages import say, shown

if TYPE_CHECKING:
    from .client import BitbucketClient

ZDU = "/rest/mirroring/latest/zdu"
FARM_NODES = "/rest/mirroring/latest/farmNodes"
APPLICATION = "/rest/api/latest/application-properties"


@dataclass(frozen=True)
class FarmNode:
    """A node as the farm lists it: its address and the Bitbucket version it runs."""

    address: str
    version: str


def farm_nodes(mirror: BitbucketClient) -> list[FarmNode]:
    """The nodes the farm lists; an answer that is not the document's list of RestClusterNode (a
    paged object, null, a node without an address or version) is an AnswerError naming the URL."""
    answer = mirror.get(FARM_NODES, expect=list[RestClusterNode])
    return [FarmNode(node.address.address, node.buildVersion) for node in answer]


def node_version(mirror: BitbucketClient) -> str:
    return mirror.get(APPLICATION, expect=RestApplicationProperties).version


def running_versions(mirror: BitbucketClient, clustered: bool) -> list[str]:
    """The versions the serving nodes run, sorted and distinct (empty: none answers)."""
    if clustered:
        return sorted({n.version for n in farm_nodes(mirror)})
    return [node_version(mirror)]


def start_upgrade_mode(mirror: BitbucketClient) -> None:
    state = mirror.post(f"{ZDU}/start")
    version = state.get("version") if isinstance(state, dict) else None
    say(f"{mirror.base_url}: upgrade mode on (the farm runs {shown(version) if version else 'an unreported version'})")


def end_upgrade_mode(mirror: BitbucketClient, timeout_s: float, pause_s: float) -> None:
    """Upgrade mode off. Refused while the nodes still settle on one version (409), or while the
    mirror is briefly unavailable (5xx, 429, no answer): tried again until the deadline, then a
    RolloutError that says what to check. Anything else (401, 403, 404, a malformed answer) cannot
    get better by waiting: raised at once, as what it is."""
    deadline = clock.Deadline(timeout_s)
    last: list[BitbucketError] = []  # the answer before the time ran out is what to report

    def attempt() -> Optional[clock.NotYet[None]]:
        try:
            mirror.post(f"{ZDU}/end", deadline=deadline)
        except DeadlineExceeded:
            return clock.NotYet()  # not sent, the time being up
        except (Conflict, ServerUnavailable, Unreachable) as exc:
            last[:] = [exc]
            return clock.NotYet()
        say(f"{mirror.base_url}: every node runs one version; upgrade mode off")
        return None

    def timed_out(_: None) -> RolloutError:
        return RolloutError(
            f"{mirror.base_url}: upgrade mode could not be turned off within {timeout_s:.0f}s "
            f"({last[0] if last else None}); the farm serves in mixed mode: check each node's version in "
            "Administration > Mirrors, then run `pulumi up` again"
        )

    clock.poll_until(deadline, attempt, every=pause_s, timed_out=timed_out)


def wait_listed(
    mirror: BitbucketClient,
    node: str,
    address: str,
    version: Optional[str],
    timeout_s: float,
    poll_s: float,
    progress_s: float = 30.0,
) -> None:
    """Until the farm lists the node at `address` on `version` (any version, without one)."""
    deadline = clock.Deadline(timeout_s)

    def attempt() -> Optional[clock.NotYet[tuple[str, str]]]:
        try:
            mine = [n for n in farm_nodes(mirror) if n.address == address]
        except NotFound:
            # A mirror not approved yet (its first node, or a rebuilt mirror's) has no farm to list
            # nodes in: it forms one when it is approved.
            say(f"{mirror.base_url} is not approved yet: its farm lists {node} once it is")
            return None
        except BitbucketError as exc:
            mine, problem = [], str(exc)
        else:
            problem = ""
        if mine and version in (None, mine[0].version):
            return None
        return clock.NotYet((shown(mine[0].version) if mine else "not listed", problem))

    def timed_out(seen: tuple[str, str]) -> RolloutError:
        found, problem = seen
        return RolloutError(
            f"{node} ({address}) did not join the farm on {version or 'any version'} within "
            f"{timeout_s:.0f}s (it is {found}{'; ' + problem if problem else ''}); the farm keeps "
            "serving on the other nodes"
        )

    def progress(seen: tuple[str, str]) -> None:
        say(
            f"waiting for the farm to list {node} ({address}) on {version or 'any version'} "
            f"({deadline.elapsed:.0f}s of {timeout_s:.0f}s; it is {seen[0]})"
        )

    clock.poll_until(deadline, attempt, every=poll_s, timed_out=timed_out, progress=progress, progress_every=progress_s)


def wait_running(mirror: BitbucketClient, node: str, timeout_s: float, poll_s: float, progress_s: float = 30.0) -> None:
    """Until the mirror's base URL answers /status RUNNING (a node without a load balancer, back)."""
    deadline = clock.Deadline(timeout_s)

    def attempt() -> Optional[clock.NotYet[str]]:
        try:
            answer = mirror.get("/status")
            state = answer.get("state") if isinstance(answer, dict) else None
        except BitbucketError as exc:
            state = f"no answer ({exc.status or 'unreachable'})"
        if state == "RUNNING":
            return None
        return clock.NotYet(state if isinstance(state, str) and state.startswith("no answer") else shown(state))

    def timed_out(state: str) -> RolloutError:
        return RolloutError(
            f"{node} did not answer RUNNING at {mirror.base_url}/status within {timeout_s:.0f}s "
            f"(last: {state}): check `journalctl -u atlbitbucket` on it (README, Troubleshooting)"
        )

    def progress(state: str) -> None:
        say(f"waiting for {node} to answer RUNNING ({deadline.elapsed:.0f}s of {timeout_s:.0f}s; {state})")

    clock.poll_until(deadline, attempt, every=poll_s, timed_out=timed_out, progress=progress, progress_every=progress_s)
