"""The keys of the second month: home snapshots (`backup`), the way back (`restoreFrom`) and a
newer OS image (`osImage`), each refused at preview naming the key when it cannot work."""

from __future__ import annotations

import copy

import pytest

from .test_stack_config import BASE, load, problems_of, with_


def test_backups_are_on_by_default_keep_two_and_a_site_overrides_key_by_key():
    (site,) = load(BASE).sites
    assert site.backup.enabled is True and site.backup.keep == 2
    raw = with_("backup", {"keep": 5})
    raw = with_("mirrors[0].backup", {"enabled": False}, base=raw)
    (site,) = load(raw).sites
    assert site.backup.enabled is False and site.backup.keep == 5  # keep inherited from the stack


@pytest.mark.parametrize("keep", [0, 51, "two"])
def test_backup_keep_out_of_range_is_refused_naming_the_key(keep):
    assert "bitbucket-mirrors:backup.keep" in problems_of(with_("backup", {"keep": keep}))


def test_restore_from_must_be_the_configured_version():
    raw = with_("mirrors[0].restoreFrom", "9.4.15")
    raw = with_("mirrors[0].bitbucketVersion", "9.4.17", base=raw)
    message = problems_of(raw)
    assert "bitbucket-mirrors:mirrors[0].restoreFrom" in message
    assert "bitbucketVersion" in message and "9.4.15" in message and "remove restoreFrom" in message


def test_restore_from_equal_to_the_version_is_accepted():
    raw = with_("mirrors[0].restoreFrom", "9.4.15")
    raw = with_("mirrors[0].bitbucketVersion", "9.4.15", base=raw)
    assert load(raw).mirrors[0].restore_from == "9.4.15"


@pytest.mark.parametrize("value", ["refresh: 2026-12", "ami-0123456789abcdef0", "2027-01"])
def test_os_image_takes_a_label_or_an_ami_id(value):
    assert load(with_("mirrors[0].osImage", value)).mirrors[0].os_image == value


@pytest.mark.parametrize(
    "value, words",
    [
        ("ami-XYZ", "an AMI id such as ami-0123456789abcdef0"),
        ("refresh\nnow", "printable"),
        ("   ", "printable"),
        ("x" * 65, "at most 64"),
    ],
)
def test_a_bad_os_image_is_refused_naming_the_key(value, words):
    message = problems_of(with_("mirrors[0].osImage", value))
    assert "bitbucket-mirrors:mirrors[0].osImage" in message and words in message


def test_unset_os_image_means_nodes_keep_their_image():
    assert load(copy.deepcopy(BASE)).mirrors[0].os_image is None
