"""scripts/up.sh on a machine a newcomer might have: no Pulumi CLI and no way to download it, no AWS
credentials, and the example's placeholders still in the stack file. It must say each problem and
what to do, say where the state will be, and create nothing.

The script runs from a copy of the project whose venv/ is this suite's own (pip then finds every
requirement satisfied and needs no network); the download of the CLI goes to a `curl` that cannot
resolve a host, as on a machine without internet access."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT, copy, ignore=shutil.ignore_patterns("venv", ".git", ".pulumi-state", "__pycache__", ".pytest_cache")
    )
    (copy / "venv").symlink_to(ROOT / "venv")
    shutil.copy(ROOT / "Pulumi.example.yaml", copy / "Pulumi.dev.yaml")
    return copy


def run_up(project: Path, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    curl = bin_dir / "curl"
    curl.write_text("#!/bin/sh\necho 'curl: (6) Could not resolve host: get.pulumi.com' >&2\nexit 6\n")
    curl.chmod(0o755)
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
    # The CLI: what it tried, and how to install it by hand.
    assert "installing 3.207.0" in said and "could not install the Pulumi CLI" in said
    assert "Install 3.207.0 by hand" in said and "https://www.pulumi.com/docs/install/" in said
    # The credentials: what is missing and what to set.
    assert "no usable AWS credentials" in said and "AWS_PROFILE" in said
    assert "3 problem(s) above; nothing was created." in said
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
