"""Rules that compare fields, or mirrors, with each other (a field's own rule is its type, in
`constrained.py`); `stack_problems` runs them all, one theme a module: network_rules (who may reach
the mirrors, where a site's network lies), tls_rules, monitoring_rules and mirror_rules (within one
entry), and here what compares mirrors with each other.

They run even when field rules failed elsewhere, so a file's problems are all reported in one pass:
each rule names the keys it reads (`Context.usable`), and is skipped only when one of those failed.
The model they read may then be a salvaged one (`salvage.py`): a failed field holds its default, a
mirror that is not an object at all is None.
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional

from facts.urls import normalise_base_url

from .errors import Problem
from .mirror_rules import kms_region_problems, mirror_problems
from .model import Mirror, StackModel
from .monitoring_rules import monitoring_problems
from .network_rules import network_cidr_problems, placement_region_problems, primary_cidr_problems
from .primary_reach import scm_suffix_warning
from .rule_context import Context
from .tls_rules import base_url_host_problems, certificate_region_problems


def stack_problems(
    stack: StackModel, warn: Callable[[str], None], aws_region: Optional[str] = None, failed: Iterable[str] = ()
) -> list[Problem]:
    """Every cross-field problem of the stack, in the order of its keys; warnings go to `warn`."""
    ctx = Context(stack, aws_region, frozenset(failed))
    scm = scm_suffix_warning(stack.primary.url) if stack.primary is not None and ctx.usable("primary.url") else None
    if scm:
        warn(scm)
    problems = network_cidr_problems(ctx, "network", stack.network) if stack.network else []
    problems += primary_cidr_problems(ctx)
    names: dict[str, int] = {}
    urls: dict[str, int] = {}
    for i, mirror in ctx.mirrors():
        problems += _site_problems(ctx, i, mirror, warn)
        problems += _unique_problems(ctx, i, mirror, names, urls)
    return problems


def _site_problems(ctx: Context, i: int, mirror: Mirror, warn: Callable[[str], None]) -> list[Problem]:
    problems = mirror_problems(ctx, i, mirror, warn)
    problems += certificate_region_problems(ctx, i, mirror)
    problems += kms_region_problems(ctx, i, mirror)
    problems += placement_region_problems(ctx, i, mirror)
    problems += monitoring_problems(ctx, i, mirror)
    problems += base_url_host_problems(ctx, i, mirror)
    if mirror.network is not None:
        problems += network_cidr_problems(ctx, f"mirrors[{i}].network", mirror.network)
    return problems


def _unique_problems(
    ctx: Context, i: int, mirror: Mirror, names: dict[str, int], urls: dict[str, int]
) -> list[Problem]:
    """Each mirror's name and base URL are its own: `names` and `urls` hold the first index of each."""
    problems = []
    if ctx.usable(f"mirrors[{i}].name"):
        if mirror.name in names:
            problems.append(
                Problem(
                    f"mirrors[{i}].name",
                    f"'{mirror.name}' is already used by mirrors[{names[mirror.name]}]; names must "
                    "be unique: give this mirror another name",
                )
            )
        names.setdefault(mirror.name, i)
    if ctx.usable(f"mirrors[{i}].baseUrl"):
        url = normalise_base_url(mirror.base_url)
        if url in urls:
            problems.append(
                Problem(
                    f"mirrors[{i}].baseUrl",
                    f"'{mirror.base_url}' is the same URL as mirrors[{urls[url]}].baseUrl; "
                    "each mirror needs its own base URL",
                )
            )
        urls.setdefault(url, i)
    return problems
