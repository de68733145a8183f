"""An installer pinned to one version's archive is refused with another bitbucketVersion: the
install would unpack a tree of the wrong version on every node (found by the twin running the real
install script)."""

from __future__ import annotations

from .test_stack_config import load, problems_of, with_

URL = "https://artifacts.internal.example.com/bitbucket/atlassian-bitbucket-{}.tar.gz"


def _pinned(archive: str, version: str) -> dict:
    raw = with_("mirrors[0].installer", {"url": URL.format(archive), "sha256": "ab" * 32})
    return with_("mirrors[0].bitbucketVersion", version, base=raw)


def test_an_installer_of_another_version_is_refused_naming_both_keys():
    message = problems_of(_pinned("9.4.16", "9.4.17"))
    assert "bitbucket-mirrors:mirrors[0].installer.url" in message
    assert "Bitbucket 9.4.16" in message and "bitbucketVersion is 9.4.17" in message


def test_an_installer_of_the_configured_version_or_one_that_names_none_is_accepted():
    assert load(_pinned("9.4.17", "9.4.17")).mirrors[0].installer is not None
    raw = with_("mirrors[0].installer", {"url": "https://artifacts.internal.example.com/bitbucket/latest.tgz"})
    assert load(raw).mirrors[0].installer is not None
