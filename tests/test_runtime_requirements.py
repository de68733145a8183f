"""`requirements.txt` is what `pulumi up` installs (Pulumi.yaml: toolchain pip): everything the
program and its dynamic providers import is in it, and nothing only the tests need is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_ONLY = ("pytest", "moto", "trustme", "openapi-core", "parliament", "ruff")
# What the engine loads from the stack's virtualenv: the program's packages, and the provider host.
IMPORTS = r"""
import importlib, pkgutil, sys
sys.path.insert(0, ".")
for package in ("facts", "stack_config", "components", "providers"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
import pulumi.dynamic, boto3, requests, certifi, grpc, cryptography
print("imported")
"""


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\[\]-]+)==(\S+)$", line.strip())
        if match:
            pins[match.group(1).split("[")[0].lower()] = match.group(2)
    return pins


def test_the_runtime_file_holds_no_test_package_and_every_pin_is_exact():
    runtime = ROOT / "requirements.txt"
    lines = [ln for ln in runtime.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert all(re.match(r"^[A-Za-z0-9_.\[\]-]+==\S+$", ln) for ln in lines), "every requirement pinned exactly"
    assert not set(_pins(runtime)) & set(TEST_ONLY)
    # Relied on below their public API, so pinned: grpc's server state (providers/host_pool.py).
    assert {"grpcio", "protobuf", "boto3", "botocore"} <= set(_pins(runtime))
    dev = ROOT / "requirements-dev.txt"
    assert "-r requirements.txt" in dev.read_text().splitlines()
    assert set(TEST_ONLY) <= set(_pins(dev))


def test_a_virtualenv_with_only_the_runtime_file_runs_the_program_and_the_provider_host(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(ROOT / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, timeout=60
    ).stdout.lower()
    assert not [name for name in TEST_ONLY if f"\n{name}==" in "\n" + listed]
    imported = subprocess.run([str(python), "-c", IMPORTS], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert imported.returncode == 0 and imported.stdout.strip() == "imported", imported.stderr[-3000:]
    # The provider host the engine starts (pulumi-resource-pulumi-python -> python -m pulumi.dynamic).
    host = subprocess.Popen([str(python), "-u", "-m", "pulumi.dynamic"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout.readline().strip().isdigit()  # its gRPC port: it started
    finally:
        host.kill()
        host.wait(timeout=10)
