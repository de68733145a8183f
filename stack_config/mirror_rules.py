"""Cross-field rules within one mirror entry: its HTTPS (`tls_rules`), its size, its installer against
its version, its restore, its projects, its KMS key's region.
"""

from __future__ import annotations

import re
from typing import Callable
from urllib.parse import urlsplit

from facts.bitbucket import VERSION

from .errors import Problem
from .instance_types import MIN_MEMORY_GIB, MIN_VCPUS, UnknownInstanceType, size_of
from .model import Mirror
from .rule_context import Context
from .tls_rules import tls_problems


def kms_region_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    """EBS and SSM use a KMS key of their own region only."""
    known, region = ctx.region_of(i, mirror)
    own = mirror.kms_key_arn is not None
    at = f"mirrors[{i}].kmsKeyArn" if own else "kmsKeyArn"
    arn = mirror.kms_key_arn or ctx.stack.kms_key_arn
    if not known or region is None or arn is None or not ctx.usable(at):
        return []
    if arn.split(":")[3] == region:
        return []
    fix = (
        "create or replicate the key in that region and name it here"
        if own
        else f"set mirrors[{i}].kmsKeyArn to a key in {region} for this site"
    )
    return [
        Problem(
            at,
            f"the key is in {arn.split(':')[3]}, but {ctx.label(i, mirror)} runs in {region}: EBS and SSM "
            f"can only use a KMS key of their own region; {fix}",
        )
    ]


def _size_problems(ctx: Context, i: int, mirror: Mirror, warn: Callable[[str], None]) -> list[Problem]:
    at = f"mirrors[{i}]"
    if not ctx.usable(f"{at}.instanceType"):
        return []
    try:
        size = size_of(mirror.instance_type)
        if size.vcpus < MIN_VCPUS or size.memory_gib < MIN_MEMORY_GIB:
            return [
                Problem(
                    f"{at}.instanceType",
                    f"'{mirror.instance_type}' has {size.vcpus} vCPU / {size.memory_gib:g} GiB; a mirror "
                    f"needs at least {MIN_VCPUS} vCPU and {MIN_MEMORY_GIB} GiB (e.g. m6i.large, m6i.xlarge)",
                )
            ]
    except UnknownInstanceType:
        warn(
            f"{at}.instanceType: '{mirror.instance_type}' is not in the size table; make sure it has at least "
            f"{MIN_VCPUS} vCPU and {MIN_MEMORY_GIB} GiB"
        )
    except ValueError as exc:
        return [Problem(f"{at}.instanceType", str(exc))]
    return []


_ARCHIVE_VERSION = re.compile(rf"atlassian-bitbucket-({VERSION.pattern.strip('^$')})\.tar\.gz$")


def _installer_version_problems(ctx: Context, i: int, mirror: Mirror) -> list[Problem]:
    """An installer pinned to one version's archive cannot install another: the unpacked tree would
    hold no directory of the configured version, and every node's preflight would fail."""
    at = f"mirrors[{i}].installer.url"
    if mirror.installer is None or not ctx.usable(at, f"mirrors[{i}].bitbucketVersion"):
        return []
    named = _ARCHIVE_VERSION.search(urlsplit(mirror.installer.url).path)
    if named is None or named.group(1) == mirror.bitbucket_version:
        return []
    return [
        Problem(
            at,
            f"is the archive of Bitbucket {named.group(1)}, but mirrors[{i}].bitbucketVersion is "
            f"{mirror.bitbucket_version}: change installer.url (and installer.sha256) to the "
            f"{mirror.bitbucket_version} archive together with bitbucketVersion",
        )
    ]


def mirror_problems(ctx: Context, i: int, mirror: Mirror, warn: Callable[[str], None]) -> list[Problem]:
    at = f"mirrors[{i}]"
    problems = tls_problems(ctx, i, mirror) + _installer_version_problems(ctx, i, mirror)
    if ctx.usable(f"{at}.mirrorAll", f"{at}.projects") and mirror.mirror_all and mirror.projects:
        problems.append(
            Problem(f"{at}.mirrorAll", "mirrorAll: true mirrors every project; remove either mirrorAll or projects")
        )
    problems += _size_problems(ctx, i, mirror, warn)
    if (
        ctx.usable(f"{at}.restoreFrom", f"{at}.bitbucketVersion")
        and mirror.restore_from is not None
        and mirror.restore_from != mirror.bitbucket_version
    ):
        problems.append(
            Problem(
                f"{at}.restoreFrom",
                f"'{mirror.restore_from}' is not bitbucketVersion ('{mirror.bitbucket_version}'): a "
                f"restore goes back to the version its snapshots hold, so set bitbucketVersion to "
                f"{mirror.restore_from} as well, or remove restoreFrom to upgrade",
            )
        )
    if ctx.usable(f"{at}.projects"):
        seen = set()
        for j, key in enumerate(mirror.projects):
            if key in seen:
                problems.append(Problem(f"{at}.projects[{j}]", f"'{key}' is listed twice; remove this entry"))
            seen.add(key)
    return problems
