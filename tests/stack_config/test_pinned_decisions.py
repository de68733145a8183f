"""Decisions a mutation sample flipped without any test failing, pinned: the user name's control
character bound, readme_sync's --check and its __main__ guard, and the sizes the instance table
states when it refuses a type."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stack_config.reference import BEGIN, END

from .test_stack_config import load, problems_of, with_

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("username", ["mirror admin", "mirror~admin", "jürgen"])
def test_a_user_name_with_a_space_or_printable_characters_is_accepted(username):
    assert load(with_("primary.username", username)).primary.username == username


@pytest.mark.parametrize("username", ["mirror\x1fadmin", "mirror\x00admin", "mirror\tadmin"])
def test_a_user_name_with_a_control_character_is_refused(username):
    message = problems_of(with_("primary.username", username))
    assert (
        "bitbucket-mirrors:primary.username: expected a Bitbucket user name without ':' or control characters"
        in message
    )


STALE = f"# a README\n\n{BEGIN}\n| an old table |\n{END}\n\nafter\n"


def _package_copy(directory: Path) -> Path:
    """stack_config beside a stale README of its own: whatever the module does, the real README is not there."""
    for package in ("stack_config", "facts"):  # facts: what stack_config shares with the providers
        shutil.copytree(ROOT / package, directory / package, ignore=shutil.ignore_patterns("__pycache__"))
    (directory / "README.md").write_text(STALE)
    return directory


def _python(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def _import_writes_nothing(directory: Path) -> bool:
    copy = _package_copy(directory)
    imported = _python(copy, "-c", "import stack_config.readme_sync as m; assert m.README.parent.samefile('.')")
    return imported.returncode == 0 and (copy / "README.md").read_text() == STALE


@pytest.fixture(scope="module")
def readme_sync(tmp_path_factory):
    """The module, imported only once a copy showed that importing it writes nothing: a broken
    __main__ guard must fail these tests, not rewrite the real README."""
    if not _import_writes_nothing(tmp_path_factory.mktemp("guard")):
        pytest.fail("importing stack_config.readme_sync rewrote README (its __main__ guard is gone)")
    import stack_config.readme_sync as module

    return module


@pytest.fixture
def readme_copy(tmp_path, monkeypatch, readme_sync) -> Path:
    copy = tmp_path / "README.md"
    copy.write_text(STALE)
    monkeypatch.setattr(readme_sync, "README", copy)
    return copy


def test_readme_sync_check_fails_on_a_stale_readme_and_writes_nothing(readme_sync, readme_copy, capsys):
    assert readme_sync.main(["--check"]) == 1
    assert readme_copy.read_text() == STALE
    assert "README's config reference is stale" in capsys.readouterr().err


def test_readme_sync_writes_the_table_and_check_then_passes(readme_sync, readme_copy):
    assert readme_sync.main([]) == 0
    text = readme_copy.read_text()
    assert "| an old table |" not in text and "`bitbucket-mirrors:primary.url`" in text
    assert text.startswith("# a README\n") and text.endswith("\nafter\n")
    assert readme_sync.main(["--check"]) == 0


def test_importing_readme_sync_never_rewrites_the_readme(tmp_path):
    real = (ROOT / "README.md").read_text()
    assert _import_writes_nothing(tmp_path / "import")
    copy = _package_copy(tmp_path / "run")
    checked = _python(copy, "-m", "stack_config.readme_sync", "--check")
    assert checked.returncode == 1 and "stale" in checked.stderr
    assert (copy / "README.md").read_text() == STALE
    assert _python(copy, "-m", "stack_config.readme_sync").returncode == 0
    assert (copy / "README.md").read_text() != STALE
    assert (ROOT / "README.md").read_text() == real


SMALL = [
    # (instance type, what the refusal must state: the type's real vCPU and memory)
    ("t3.medium", "'t3.medium' has 2 vCPU / 4 GiB"),
    ("t3.small", "'t3.small' has 2 vCPU / 2 GiB"),
    ("t3a.nano", "'t3a.nano' has 2 vCPU / 0.5 GiB"),
    ("t4g.micro", "'t4g.micro' has 2 vCPU / 1 GiB"),
    ("c6i.large", "'c6i.large' has 2 vCPU / 4 GiB"),
    ("c7g.large", "'c7g.large' has 2 vCPU / 4 GiB"),
    ("c5n.large", "'c5n.large' has 2 vCPU / 5.25 GiB"),
    ("m6g.medium", "'m6g.medium' has 1 vCPU / 4 GiB"),
    ("r6g.medium", "'r6g.medium' has 1 vCPU / 8 GiB"),
    ("c6g.medium", "'c6g.medium' has 1 vCPU / 2 GiB"),
    ("m7a.medium", "'m7a.medium' has 1 vCPU / 4 GiB"),
]


@pytest.mark.parametrize("instance_type, words", SMALL, ids=[c[0] for c in SMALL])
def test_a_refused_instance_type_is_told_its_real_size(instance_type, words):
    message = problems_of(with_("mirrors[0].instanceType", instance_type))
    assert f"bitbucket-mirrors:mirrors[0].instanceType: {words}; a mirror needs at least 2 vCPU and 8 GiB" in message


@pytest.mark.parametrize(
    "instance_type, smallest",
    [("m6i.medium", "m6i.large"), ("c6i.small", "c6i.large"), ("r7i.nano", "r7i.large"), ("m7g.micro", "m7g.medium")],
)
def test_a_size_the_family_does_not_have_is_not_given_invented_figures(instance_type, smallest):
    message = problems_of(with_("mirrors[0].instanceType", instance_type))
    assert f"'{instance_type}' is not an EC2 instance type" in message and f"its smallest is {smallest}" in message
    assert "vCPU /" not in message


@pytest.mark.parametrize(
    "instance_type", ["m6i.large", "t3.large", "r6g.large", "m7a.large", "c5n.2xlarge", "c6i.xlarge"]
)
def test_instance_types_of_at_least_2_vcpu_and_8_gib_are_accepted(instance_type):
    warnings: list[str] = []
    load(with_("mirrors[0].instanceType", instance_type), warnings=warnings)
    assert warnings == []
