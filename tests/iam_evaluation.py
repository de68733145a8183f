"""Whether identity policies allow one request, after IAM's documented evaluation logic, for the
parts of the policy language this repository's documents use (tests/test_deployer_policy.py plays
a stolen deployer's escalation against docs/deployer-policy*.json with it).

Sources (AWS IAM User Guide): "Policy evaluation logic" (a request is allowed when some Allow
statement matches and no Deny does; these documents hold only Allow statements), "IAM JSON policy
elements: Action / Resource" (action names case-insensitive, resource ARNs case-sensitive, `*` and
`?` wildcards), "IAM JSON policy elements: Condition operators" (operators ANDed, keys ANDed, a key's
values ORed; ArnEquals and ArnLike match each part of an ARN alike; a missing key fails every
operator but Null, `...IfExists` and `ForAllValues`; Null
"false" means the key is present), "Policy variables" (`${aws:PrincipalAccount}` in a condition
value is the caller's account). An operator or variable outside that list raises rather than
being read as allowed or denied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Union

Value = Union[str, list[str]]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, Value] = field(default_factory=dict)  # condition keys the request carries
    account: str = "123456789012"


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _substituted(pattern: str, request: Request) -> str:
    def variable(match: re.Match) -> str:
        if match.group(1) != "aws:PrincipalAccount":
            raise ValueError(f"policy variable {match.group(0)} is not modelled here")
        return request.account

    return re.sub(r"\$\{([^}]+)\}", variable, pattern)


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one; nothing else is special (unlike fnmatch's [])."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _arn_like(pattern: str, arn: str) -> bool:
    """ArnEquals and ArnLike alike: each of the six colon-separated parts matched on its own, with
    wildcards, case-sensitively (the resource part keeps its own colons)."""
    wanted, given = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(given) == 6 and all(_like(w, g) for w, g in zip(wanted, given))


def _key_holds(operator: str, expected: list[str], actual: list[str] | None) -> bool:
    base = operator.removesuffix("IfExists")
    if operator.startswith("ForAllValues:"):
        base = operator.split(":", 1)[1]
        return all(_key_holds(base, expected, [one]) for one in actual or [])
    if operator == "Null":
        return (actual is None) == (expected[0] == "true")
    if actual is None:
        return operator.endswith("IfExists")
    if base == "StringEquals":
        return any(a == e for a in actual for e in expected)
    if base == "StringLike":
        return any(_like(e, a) for a in actual for e in expected)
    if base in ("ArnEquals", "ArnLike"):
        return any(_arn_like(e, a) for a in actual for e in expected)
    raise ValueError(f"condition operator {operator} is not modelled here")


def _conditions_hold(condition: Mapping[str, Mapping[str, Value]], request: Request) -> bool:
    for operator, keys in condition.items():
        for key, expected in keys.items():
            wanted = [_substituted(e, request) for e in _listed(expected)]
            actual = request.context.get(key)
            if not _key_holds(operator, wanted, None if actual is None else _listed(actual)):
                return False
    return True


def allowing(statements: Iterable[Mapping], request: Request) -> list[str]:
    """The Sids of the statements that allow this request (empty: IAM's implicit deny)."""
    found = []
    for s in statements:
        if s["Effect"] != "Allow" or "NotAction" in s or "NotResource" in s:
            raise ValueError(f"{s.get('Sid')}: only Allow statements with Action and Resource are modelled here")
        if not any(_like(a, request.action, ignore_case=True) for a in _listed(s["Action"])):
            continue
        if not any(_like(_substituted(r, request), request.resource) for r in _listed(s["Resource"])):
            continue
        if _conditions_hold(s.get("Condition", {}), request):
            found.append(s.get("Sid", "?"))
    return found
