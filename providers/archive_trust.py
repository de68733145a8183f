"""ArchiveTrust: the sha256 of each Bitbucket archive a site first verified, kept in the stack's state.

Trust on first use, per version. Every node's preflight downloads the archive and verifies it on its
own, at the same time as the others, against `mirrors[].installer.sha256` or the vendor's MD5, and
reports the archive's sha256 on its stdout. This resource takes every node's report: they must all
name the same bytes, and, for a version this site verified before, the bytes it recorded then; else
it fails here, naming the nodes and the digests, before any node stops. A version without a record
gets the reports' one digest recorded, and never changed: every install (a node replaced a year
later too) gets it as the one sha256 the archive must have; the node scripts refuse other bytes
themselves as well.

It calls nothing: the record is derived from the old state and the reports at check, so a preview
already knows a recorded version's sha256. Trusting other bytes for a recorded version is a deliberate
act of the operator for one run, never config: RETRUST_VARIABLE=<site>:<version> in the environment of
that `pulumi up` (docs/download-verification.md).

A state written before the nodes reported together holds one `reported` value (node 0's) beside the
record: check reads only the record (`digests`) from the old state, so such a state reads as any other.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

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
    """The inputs of ArchiveTrust: one per site, fed by every node's preflight."""

    # The site's name: named in the refusal, and the <site> of RETRUST_VARIABLE. A change only renames
    # the record's id at its next create; it never changes a recorded sha256.
    site: str
    # The Bitbucket version the site installs: a version with no record yet gets the reports' digest
    # recorded; one already recorded gives its recorded sha256 as `sha256` (an update, not a replace).
    version: pulumi.Input[str]
    # Per node name, the sha256 its preflight verified (reported_sha256 of its stdout), "" for none:
    # they must agree with each other, and with the record of a recorded version, or check fails.
    reports: pulumi.Input[dict[str, str]]


def mismatch(site: str, version: str, first: str, reported: str, nodes: Sequence[str] = ()) -> str:
    by = f" on {', '.join(nodes)}" if nodes else ""
    return (
        f"site {site}: atlassian-bitbucket-{version}.tar.gz was verified as sha256 {reported}{by}, but this "
        f"site first verified {first} for Bitbucket {version} (kept in the stack's state): other bytes for a "
        "version it already verified are refused, and no node was stopped. If the archive changed on purpose, "
        f"run that one `pulumi up` with {RETRUST_VARIABLE}={site}:{version} "
        "(docs/download-verification.md, 'Trust on first use')"
    )


def disagreement(site: str, version: str, by_digest: dict[str, list[str]]) -> str:
    seen = "; ".join(f"{', '.join(nodes)} verified sha256 {digest}" for digest, nodes in sorted(by_digest.items()))
    return (
        f"site {site}: the nodes downloaded different bytes for atlassian-bitbucket-{version}.tar.gz ({seen}); "
        "every node must install the same archive, so none is trusted and no node was stopped (the first "
        "node, drained beside the preflights, serves again once an `up` passes this check). Find what "
        "serves the nodes different bytes (a proxy, an internal mirror of the archive, the vendor "
        "republishing it), then run the nodes' preflights again: `pulumi up --replace <urn>` for each "
        f"`{site}-node<i>-preflight` (`pulumi stack --show-urns`): each downloads and verifies the archive "
        "anew (docs/download-verification.md, 'Trust on first use')"
    )


def retrusted(site: str, version: str) -> bool:
    """Whether the operator asked, for this run only, to record other bytes for this site's version."""
    return os.environ.get(RETRUST_VARIABLE, "").strip() == f"{site}:{version}"


def _reports(news: dict[str, Any]) -> tuple[dict[str, list[str]], bool, list[CheckFailure]]:
    """The known digests the nodes reported, each with the nodes that reported it; whether any
    report is still unknown (a preview); and the reports that are not a sha256."""
    reports = news.get("reports")
    if is_unknown(reports):
        return {}, True, []
    by_digest: dict[str, list[str]] = {}
    unknown, failures = False, []
    for node, digest in sorted(dict(reports or {}).items()):
        if is_unknown(digest):
            unknown = True
        elif digest and not _SHA256.fullmatch(str(digest)):
            failures.append(CheckFailure("reports", f"{node}: expected 64 hex digits, got {digest!r:.80}"))
        elif digest:
            by_digest.setdefault(str(digest), []).append(node)
    return by_digest, unknown, failures


class ArchiveTrustProvider(ResourceProvider):
    """The record of each archive's first verified sha256, per version (module docstring: why).

    - check: derives the record from the old state and the reports, so a preview knows it: reports of
      different bytes fail here naming the nodes and digests; a version not recorded records the
      reports' digest; a recorded one gives its sha256, and reports of other bytes fail naming the
      nodes and both digests (unless RETRUST_VARIABLE names this site and version for this run).
    - diff: a change of the version, the sha256 or the record is an update; nothing forces a replacement
      (a replacement would forget every recorded digest).
    - create / update: record what check derived; they call nothing.
    - read: the state as it is: nothing outside it to read.
    - delete: the SDK's default: nothing outside the state to remove, the record is forgotten with the
      resource (a site removed); safe to repeat.
    """

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        digests = dict(olds.get("digests") or {})
        version, site = news.get("version"), str(news.get("site"))
        checked = {**news, "digests": digests}
        if is_unknown(version):
            return CheckResult(checked, [])  # the sha256 is known once the version is
        by_digest, unknown, failures = _reports(news)
        if failures:
            return CheckResult(checked, failures)
        if len(by_digest) > 1:
            return CheckResult(checked, [CheckFailure("reports", disagreement(site, version, by_digest))])
        reported, nodes = next(iter(by_digest.items()), ("", []))
        first = digests.get(version)
        if first and reported and retrusted(site, version):
            digests[version] = first = reported
        if first:
            checked["sha256"] = first
            if reported and reported != first:
                failures.append(CheckFailure("reports", mismatch(site, version, first, reported, nodes)))
        elif not unknown:
            if reported:
                digests[version] = reported
            checked["sha256"] = reported
        return CheckResult(checked, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # Reports alone (the same digest, or none after a command ran its update) change nothing.
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
