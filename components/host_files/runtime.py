"""Which Java, Git and OpenSSH a Bitbucket version needs on a mirror host.

Sources (docs/bitbucket-facts.md §3): Java 17 is the minimum from 9.0; OpenSSH
7.2 is the minimum for SSH sync since 7.9. The vendor's per-release Git matrix could not be
retrieved; 2.31 is chosen as a floor every supported distribution exceeds (AL2023 ships 2.40+,
Ubuntu 22.04 2.34) and that is newer than any minimum the 8.x/9.x notes were seen to require.
Java 21 for 10.x is not confirmed by a primary source, so 10.x gets Java 17 too.
"""

from __future__ import annotations

from dataclasses import dataclass

from facts.bitbucket import unsupported_version


class UnsupportedVersion(ValueError):
    """The config refuses these first (facts/bitbucket.py); this is the renderer's own guard."""


@dataclass(frozen=True)
class RuntimeRequirements:
    """What a Bitbucket version needs of the node: its Java major, the oldest git and OpenSSH."""

    java_major: int
    git_min: str
    openssh_min: str = "7.2"


def supported_runtime(version: str) -> RuntimeRequirements:
    problem = unsupported_version(version)
    if problem:
        raise UnsupportedVersion(f"bitbucket_version: {problem}")
    return RuntimeRequirements(java_major=17, git_min="2.31.0")


def default_installer_url(version: str) -> str:
    return f"https://product-downloads.atlassian.com/software/stash/downloads/atlassian-bitbucket-{version}.tar.gz"
