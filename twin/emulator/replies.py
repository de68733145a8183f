"""What the emulator's routes answer with, as Bitbucket does: a status and JSON body (an error in the
vendor's `errors` shape), a page of a paged list, a refused request without credentials or rights,
or no answer at all; and the REST prefixes both a primary and a mirror serve."""

from __future__ import annotations

from typing import Any, Optional

from .state import User

API = r"/rest/(?:api|mirroring|ssh)/(?:latest|1\.0)"
MAX_PAGE = 1000


class NoAnswer(Exception):
    """The connection is dropped without an answer (nothing behind a load balancer serves)."""


class Reply(Exception):
    """An answer a route raises or returns: its status, JSON body and headers (204: no body)."""

    def __init__(self, status: int, body: Any = None, headers: Optional[dict] = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def error(status: int, message: str, exception: str = "com.atlassian.bitbucket.ServiceException") -> Reply:
    return Reply(status, {"errors": [{"message": message, "exceptionName": exception}]})


def page(values: list, query: dict) -> dict:
    start = int(query.get("start", 0))
    limit = min(int(query.get("limit", 25)), MAX_PAGE)
    chunk = values[start : start + limit]
    last = start + limit >= len(values)
    body = {"size": len(chunk), "limit": limit, "isLastPage": last, "start": start, "values": chunk}
    if not last:
        body["nextPageStart"] = start + limit
    return body


def _require(user: Optional[tuple[str, User]], admin: bool = True, status_if_not_admin: int = 403) -> None:
    if user is None:
        raise error(
            401,
            "Authentication failed. Please check your credentials and try again.",
            "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException",
        )
    if admin and not user[1].sys_admin:
        raise error(
            status_if_not_admin,
            "You are not permitted to access this resource",
            "com.atlassian.bitbucket.AuthorisationException",
        )
