"""What the providers read from Bitbucket, as the vendor's OpenAPI document (9.2, tests/spec/)
describes it: one pydantic model per answer, checked strictly.

Strict, because a lenient reading turned wrong answers into wrong decisions: `"enabled": "false"`
is a non-empty string, so SSH counted as on; a progress of `{}` counted as fully synchronised. Here a
string is never a boolean or a number, a field the code decides on must be present, and an answer
that does not fit raises AnswerError naming the URL, what it held and what was expected.

Only the fields the providers read are modelled; others are ignored (a newer Bitbucket may add
some). Fields the document marks optional and the code can do without stay optional.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Generic, Literal, Optional, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .errors import AnswerError

T = TypeVar("T")
# The mirror's sync settings name projects by their numeric ids, as strings (RestUpstreamSettings).
ProjectId = Annotated[str, Field(pattern=r"^[0-9]{1,10}$")]
Port = Annotated[int, Field(ge=1, le=65535)]
Count = Annotated[int, Field(ge=0)]
NonEmpty = Annotated[str, Field(min_length=1)]


class Answer(BaseModel):
    """An answer of the vendor's REST API, checked strictly (a "false" string is no bool), frozen;
    fields the document adds later are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Page(Answer, Generic[T]):
    """A page of a paged collection (every `*Page` schema of the document)."""

    values: list[T]
    isLastPage: bool
    start: Optional[int] = None
    nextPageStart: Optional[int] = None


class RestMirroringRequest(Answer):
    """A mirror's registration request on the primary. The document gives it no creation date."""

    id: int
    mirrorBaseUrl: str
    state: str  # PENDING | ACCEPTED | REJECTED; others are never acted on
    mirrorId: Optional[str] = None
    mirrorName: Optional[str] = None
    mirrorType: Optional[str] = None
    productVersion: Optional[str] = None


class RestMirrorServer(Answer):
    """An approved mirror on the primary; `id` is "the server id of the mirror" (the document)."""

    id: NonEmpty
    baseUrl: str
    name: Optional[str] = None
    mirrorType: Optional[str] = None
    productVersion: Optional[str] = None
    enabled: Optional[bool] = None


class RestApplicationProperties(Answer):
    """`GET /rest/api/latest/application-properties`: the version a server runs."""

    version: NonEmpty
    displayName: Optional[str] = None


class RestSshSettings(Answer):
    """`GET /rest/ssh/latest/settings`: whether SSH is on, and its port (mirrors sync over SSH)."""

    enabled: bool
    port: Optional[Port] = None


class LicenseStatus(Answer):
    """The `status` of a licence answer: whether it is Data Center, and the server's own Server ID."""

    dataCenter: Optional[bool] = None
    serverId: Optional[str] = None


class RestBitbucketLicense(Answer):
    """`GET /rest/api/latest/admin/license`: the licence, and through it the Server ID (`server_id`)."""

    serverId: Optional[str] = None
    status: Optional[LicenseStatus] = None

    @property
    def server_id(self) -> Optional[str]:
        """The instance's own Server ID: `status.serverId` ("<actual server ID>" in the document),
        else `serverId` ("<server ID embedded in license>")."""
        return (self.status.serverId if self.status else None) or self.serverId or None


class RestUpstreamSettings(Answer):
    """A mirror's sync settings (`syncSettings`)."""

    mode: Literal["ALL_PROJECTS", "SELECTED_PROJECTS"]
    projectIds: list[ProjectId] = []


class RestSyncProgress(Answer):
    """`GET /rest/mirroring/latest/progress`: how many of a mirror's repositories are synchronised."""

    discovering: bool
    syncedRepos: Count
    totalRepos: Count


class NodeAddress(Answer):
    """Where a farm node listens (the `address` of RestClusterNode)."""

    address: NonEmpty
    port: Optional[int] = None


class RestClusterNode(Answer):
    """One node of `GET /rest/mirroring/latest/farmNodes`: its address and the version it runs."""

    address: NodeAddress
    buildVersion: NonEmpty
    id: Optional[str] = None
    name: Optional[str] = None


class RestRollingUpgradeState(Answer):
    """The state of a farm's upgrade mode (the `zdu` endpoints): on or off, and the farm's version."""

    rollingUpgradeEnabled: Optional[bool] = None
    version: Optional[str] = None


class RestProject(Answer):
    """One project of `GET /rest/api/latest/projects`: the id a mirror's selection holds, its key."""

    id: int
    key: NonEmpty


# --- checking an answer ---------------------------------------------------------------------
_NOT_GIVEN = object()


@lru_cache(maxsize=None)
def _adapter(expected: Any) -> TypeAdapter:
    return TypeAdapter(expected)


def parse(expected: Any, body: Any, *, method: str, url: str, status: int, empty: bool = False, hint: str = "") -> Any:
    """`body` (parsed JSON; `empty`: the answer had no body at all) as `expected` (a model, or a
    type such as list[RestClusterNode]), or AnswerError."""
    if empty:
        raise AnswerError(method, url, status, "an empty body", _name(expected), hint)
    try:
        return _adapter(expected).validate_python(body, strict=True)
    except ValidationError as invalid:
        found, wanted = describe(invalid, expected)
        raise AnswerError(method, url, status, found, wanted, hint) from None


def describe(invalid: ValidationError, expected: Any) -> tuple[str, str]:
    """What the answer held and what was expected, in words, from pydantic's errors: the place and
    the kind of what was there, never its value."""
    errors = invalid.errors(include_url=False)
    if len(errors) == 1 and not _place(errors[0]["loc"]) and errors[0]["type"] != "missing":
        return _kind(errors[0]["input"]), _name(expected)
    found, wanted = [], []
    for error in errors[:3]:
        place = _place(error["loc"]) or "the answer"
        if error["type"] == "missing":
            found.append(f"no {place}")
            wanted.append(place)
        else:
            found.append(f"{place} as {_kind(error['input'])}")
            wanted.append(f"{place} to be {_wanted(error)}")
    more = f" and {len(errors) - 3} more problem(s)" if len(errors) > 3 else ""
    return "; ".join(found) + more, f"{'; '.join(wanted)}, per {_schema(expected)}"


def _place(loc: tuple) -> str:
    # Generic models put their parameters in the location ("Page[RestProject]"): not a place.
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in str(part) or str(part) in ("function-after",):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, dict):
        return "an empty object" if not value else "an object"
    return type(value).__name__


_WANTED = {
    "bool_type": "a boolean",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "missing": "present",
    "string_too_short": "a non-empty string",
    "string_pattern_mismatch": "a string of digits",
    "greater_than_equal": "at least {ge}",
    "less_than_equal": "at most {le}",
    "literal_error": "one of {expected}",
}


def _wanted(error: dict) -> str:
    template = _WANTED.get(error["type"])
    if template is None:
        return str(error.get("msg", "valid")).lower()
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return template


def _schema(expected: Any) -> str:
    if getattr(expected, "__origin__", None) is list:
        return _schema(expected.__args__[0])
    return getattr(expected, "__name__", str(expected))


def _name(expected: Any) -> str:
    """The expected answer as a noun: "a RestSshSettings object", "a list of RestClusterNode objects"."""
    if getattr(expected, "__origin__", None) is list:
        return f"a list of {_schema(expected)} objects"
    name = _schema(expected)
    if name.startswith("Page["):
        return f"a page of {name[5:-1]} objects (values, isLastPage)"
    return f"a {name} object"
