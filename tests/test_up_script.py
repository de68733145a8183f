"""scripts/up.sh on a machine a newcomer might have: no Pulumi CLI and no way to download it, no AWS
credentials, and the example's placeholders still in the stack file. It must say each problem and
what to do, say where the state will be, and create nothing.

The script runs from a copy of the project whose venv/ and .check/ are this suite's own venv (pip
then finds every requirement satisfied and needs no network); the download of the CLI goes to a
`curl` that cannot resolve a host, as on a machine without internet access. `--check` builds its
own .check/ from requirements-check.txt alone; a package index that cannot be reached is a port
nothing listens on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE_VENV = Path(sys.executable).parents[1]  # the venv running this suite: every requirement is in it
NO_CURL = "#!/bin/sh\necho 'curl: (6) Could not resolve host: get.pulumi.com' >&2\nexit 6\n"
# get.pulumi.com's installer, as far as up.sh can tell: a `pulumi` in ~/.pulumi/bin, not on PATH.
INSTALLING_CURL = (
    "#!/bin/sh\ncat <<'EOF'\nmkdir -p \"$HOME/.pulumi/bin\"\n"
    'printf \'#!/bin/sh\\necho v3.207.0\\n\' > "$HOME/.pulumi/bin/pulumi"\nchmod +x "$HOME/.pulumi/bin/pulumi"\nEOF\n'
)
# pip with no index but one that refuses connections, and no retries: a machine without a package index.
NO_INDEX = {
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
    "PIP_FIND_LINKS": "",
    "PIP_CONFIG_FILE": os.devnull,
    "PIP_RETRIES": "0",
}


def bare_copy(tmp_path: Path) -> Path:
    """The project as cloned, with Pulumi.dev.yaml copied from the example: no venv/, no .check/."""
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns("venv", ".check", ".git", ".pulumi-state", "__pycache__", ".pytest_cache"),
    )
    shutil.copy(ROOT / "Pulumi.example.yaml", copy / "Pulumi.dev.yaml")
    return copy


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = bare_copy(tmp_path)
    (copy / "venv").symlink_to(SUITE_VENV)
    (copy / ".check").symlink_to(SUITE_VENV)
    return copy


def run_up(project: Path, tmp_path: Path, *args: str, curl: str = NO_CURL, **env: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "curl").write_text(curl)
    (bin_dir / "curl").chmod(0o755)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    # A PATH with the shell's tools but no pulumi; no AWS credentials anywhere, no instance metadata.
    path = ":".join(
        [str(bin_dir)] + [p for p in os.environ["PATH"].split(":") if p and not (Path(p) / "pulumi").exists()]
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_"))}
    clean.update(
        PATH=path,
        HOME=str(home),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        **env,
    )
    return subprocess.run(
        ["bash", "scripts/up.sh", *args], cwd=project, env=clean, capture_output=True, text=True, timeout=300
    )


def test_without_the_cli_credentials_or_secrets_it_says_each_and_creates_nothing(project, tmp_path):
    result = run_up(project, tmp_path, "dev")
    said = result.stderr
    assert result.returncode == 2, said
    # The placeholders of the example, each with the command that sets it.
    assert "primaryPassword: is a placeholder" in said and "pulumi config set --secret primaryPassword" in said
    assert "README, Quick start step 3" in said
    # The CLI: what it tried, and how to install it by hand.
    assert "installing 3.207.0" in said and "could not install the Pulumi CLI" in said
    assert "Install 3.207.0 by hand" in said and "https://www.pulumi.com/docs/install/" in said
    # The credentials: what is missing and what to set.
    assert "no usable AWS credentials" in said and "AWS_PROFILE" in said
    # What stops the deploy, each by name: the config's own problems are counted by the check alone.
    assert "the stack config has 2 problems" in said
    assert (
        "nothing was created. To fix first, each said above: the stack config; the Pulumi CLI; AWS credentials." in said
    )
    assert "problem(s)" not in said
    # One state location, said before anything else can fail, and nothing in it yet.
    state = project / ".pulumi-state"
    assert f"export PULUMI_BACKEND_URL=file://{state}" in said
    assert state.is_dir() and not any(state.iterdir())


def test_a_missing_stack_file_says_where_to_start(project, tmp_path):
    result = run_up(project, tmp_path, "prod")
    assert result.returncode == 2
    assert "Pulumi.prod.yaml not found: copy Pulumi.example.yaml" in result.stderr


def test_an_explicit_backend_is_the_one_it_names(project, tmp_path):
    result = run_up(project, tmp_path, "dev", PULUMI_BACKEND_URL="s3://team-state/bitbucket-mirrors")
    assert "export PULUMI_BACKEND_URL=s3://team-state/bitbucket-mirrors" in result.stderr
    assert not (project / ".pulumi-state").exists()


def test_an_installed_cli_comes_with_the_path_line_to_add(project, tmp_path):
    result = run_up(project, tmp_path, "dev", curl=INSTALLING_CURL)
    said = result.stderr
    assert result.returncode == 2, said
    assert "installed the Pulumi CLI into ~/.pulumi/bin" in said
    assert 'add to your shell profile: export PATH="$HOME/.pulumi/bin:$PATH"' in said
    assert "each said above: the stack config; AWS credentials." in said


def test_check_alone_builds_its_small_venv_from_a_fresh_clone_in_seconds(tmp_path):
    project = bare_copy(tmp_path)
    started = time.monotonic()
    result = run_up(project, tmp_path, "--check", "dev")
    took = time.monotonic() - started
    said = result.stderr
    assert result.returncode == 1, said  # the example's placeholders: the check's own exit status
    assert took < 60, f"up.sh --check took {took:.0f} s"
    assert "installing the config check's packages" in said and "requirements-check.txt into .check/" in said
    assert "error: the stack config has 2 problems" in said
    # Only the check ran: no runtime, no CLI, no credentials, no state.
    assert not (project / "venv").exists() and not (project / ".pulumi-state").exists()
    assert "installing 3.207.0" not in said and "AWS credentials" not in said and "state:" not in said
    listed = subprocess.run(
        [str(project / ".check/bin/python"), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout.lower()
    assert "pydantic==" in listed and "pulumi" not in listed and "boto" not in listed


def test_a_check_venv_it_could_not_finish_is_removed(tmp_path):
    project = bare_copy(tmp_path)
    result = run_up(project, tmp_path, "--check", "dev", **NO_INDEX)
    assert result.returncode == 2
    assert "from http://127.0.0.1:9/simple" in result.stderr
    assert "removed the unfinished .check/" in result.stderr
    assert not (project / ".check").exists()


def test_the_runtime_install_is_announced_and_an_unfinished_one_removed(tmp_path):
    project = bare_copy(tmp_path)
    (project / ".check").symlink_to(SUITE_VENV)
    result = run_up(project, tmp_path, "dev", **NO_INDEX)
    said = result.stderr
    assert result.returncode == 2, said
    announced = "installing the program's runtime (Pulumi SDK and providers, boto3): requirements.txt into venv/"
    assert announced in said and "about 430 MB, from http://127.0.0.1:9/simple" in said
    # Said before pip starts, so a long wait has its reason on screen.
    assert said.index(announced) < said.index("could not install requirements.txt")
    assert "removed the unfinished venv/" in said and not (project / "venv").exists()
    assert "the runtime packages" in said and "AWS credentials not checked" in said


def test_an_existing_venv_is_never_removed(project, tmp_path):
    result = run_up(project, tmp_path, "dev", **NO_INDEX)
    # The suite's own venv satisfies every requirement: pip needs no index, and nothing is removed.
    assert (project / "venv").is_symlink() and (SUITE_VENV / "bin" / "python").exists()
    assert "installing the program's runtime" not in result.stderr
