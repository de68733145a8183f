"""ArchiveTrust: the sha256 of each Bitbucket archive a site first verified, kept in the stack's state.

Trust on first use, per version. The first node of a site to download a version (node 0's preflight)
verifies the archive against `mirrors[].installer.sha256` or the vendor's MD5 and reports the
archive's sha256 on its stdout. This resource records it for that version and never changes it:
every other node's preflight, and every install (node 0's too, and a node replaced a year later),
gets it as the one sha256 the archive must have. A later report of other bytes for a recorded
version (the vendor's feed, or a mirror of the archive, changed since) fails here, naming both
digests, before any node stops; the node scripts refuse such bytes themselves as well.

It calls nothing: the record is derived from the old state and the report at check, so a preview
already knows a recorded version's sha256. Trusting other bytes for a recorded version is a deliberate
act of the operator for one run, never config: RETRUST_VARIABLE=<site>:<version> in the environment of
that `pulumi up` (docs/download-verification.md).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from .base import input_names, inputs_of, is_unknown

_SHA256 = re.compile(r"[0-9a-f]{64}")
RETRUST_VARIABLE = "BITBUCKET_MIRRORS_RETRUST_ARCHIVE"
# What the install script prints on its stdout in --preflight mode (install.sh.j2).
_REPORT = re.compile(r"^bitbucket-mirrors archive-sha256 (\S+) ([0-9a-f]{64})$", re.M)


def reported_sha256(stdout: Optional[str], version: str) -> str:
    """The sha256 a preflight's stdout reports for `version`: its last report line, or "" for none (a
    node that downloaded nothing new, a command that did not run again)."""
    found = [digest for v, digest in _REPORT.findall(stdout or "") if v == version]
    return found[-1] if found else ""


@dataclass
class ArchiveTrustArgs:
    """The inputs of ArchiveTrust: one per site, fed by node 0's preflight."""

    # The site's name: named in the refusal, and the <site> of RETRUST_VARIABLE. A change only renames
    # the record's id at its next create; it never changes a recorded sha256.
    site: str
    # The Bitbucket version the site installs: a version with no record yet gets the next report
    # recorded; one already recorded gives its recorded sha256 as `sha256` (an update, not a replace).
    version: pulumi.Input[str]
    # The sha256 node 0's preflight verified (reported_sha256 of its stdout), "" for none: recorded for
    # a version without a record, refused at check when it differs from the recorded one.
    reported: pulumi.Input[str]


def mismatch(site: str, version: str, first: str, reported: str) -> str:
    return (
        f"site {site}: atlassian-bitbucket-{version}.tar.gz was verified as sha256 {reported}, but this site "
        f"first verified {first} for Bitbucket {version} (kept in the stack's state): other bytes for a "
        "version it already verified are refused, and no node was stopped. If the archive changed on purpose, "
        f"run that one `pulumi up` with {RETRUST_VARIABLE}={site}:{version} "
        "(docs/download-verification.md, 'Trust on first use')"
    )


def retrusted(site: str, version: str) -> bool:
    """Whether the operator asked, for this run only, to record other bytes for this site's version."""
    return os.environ.get(RETRUST_VARIABLE, "").strip() == f"{site}:{version}"


class ArchiveTrustProvider(ResourceProvider):
    """The record of each archive's first verified sha256, per version (module docstring: why).

    - check: derives the record from the old state and the report, so a preview knows it: a version
      not recorded records the report; a recorded one gives its sha256, and a report of other bytes
      fails here naming both digests (unless RETRUST_VARIABLE names this site and version for this run).
    - diff: a change of the version, the sha256 or the record is an update; nothing forces a replacement
      (a replacement would forget every recorded digest).
    - create / update: record what check derived; they call nothing.
    - read: the state as it is: nothing outside it to read.
    - delete: the SDK's default: nothing outside the state to remove, the record is forgotten with the
      resource (a site removed); safe to repeat.
    """

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        digests = dict(olds.get("digests") or {})
        version, reported = news.get("version"), news.get("reported")
        checked = {**news, "digests": digests}
        failures = []
        if is_unknown(version):
            return CheckResult(checked, [])  # the sha256 is known once the version is
        if not is_unknown(reported) and reported and not _SHA256.fullmatch(str(reported)):
            return CheckResult(checked, [CheckFailure("reported", f"expected 64 hex digits, got {reported!r:.80}")])
        first = digests.get(version)
        if first and reported and not is_unknown(reported) and retrusted(str(news.get("site")), version):
            digests[version] = first = str(reported)
        if first:
            checked["sha256"] = first
            if not is_unknown(reported) and reported and reported != first:
                failures.append(CheckFailure("reported", mismatch(str(news.get("site")), version, first, reported)))
        elif not is_unknown(reported):
            if reported:
                digests[version] = reported
            checked["sha256"] = reported or ""
        return CheckResult(checked, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # A report alone (the same digest, or none after a command ran its update) changes nothing.
        changed = any(olds.get(k) != news.get(k) for k in ("version", "sha256", "digests"))
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"archive-trust-{props.get('site')}", self._outputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)  # nothing outside the state to read: the record is the state

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._outputs(news))

    @staticmethod
    def _outputs(props: dict[str, Any]) -> dict[str, Any]:
        outputs = {k: props.get(k) for k in input_names(ArchiveTrustArgs)}
        return {**outputs, "digests": dict(props.get("digests") or {}), "sha256": props.get("sha256") or ""}


class ArchiveTrust(Resource, module="bitbucket", name="ArchiveTrust"):
    """The sha256 each Bitbucket archive of a site must have (ArchiveTrustProvider: the contract)."""

    sha256: pulumi.Output[str]  # "" while the site has verified no archive of this version
    digests: pulumi.Output[dict]

    def __init__(self, name: str, args: ArchiveTrustArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(ArchiveTrustProvider(), name, {**inputs_of(args), "sha256": None, "digests": None}, opts)
