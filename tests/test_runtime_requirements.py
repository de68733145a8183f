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


# --- the offline check's own, small virtualenv (requirements-check.txt) ---------------------------

# Every stack_config module but the two that speak to the engine (loader.py: pulumi.Config and
# ConfigError, a pulumi.RunError; engine.py: the CLI version), imported as the check imports them.
BOUNDARY = r"""
import importlib, pkgutil, sys
sys.path.insert(0, ".")
import stack_config
for info in pkgutil.walk_packages(stack_config.__path__, "stack_config."):
    if info.name not in ("stack_config.loader", "stack_config.engine"):
        importlib.import_module(info.name)
print(sorted({m.split(".")[0] for m in sys.modules} & {"pulumi", "pulumi_aws", "boto3", "botocore", "providers",
    "components", "grpc"}))
"""


def test_the_config_rules_import_no_pulumi_aws_or_provider_package():
    imported = subprocess.run([sys.executable, "-c", BOUNDARY], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert imported.stdout.strip() == "[]"


def test_the_check_file_pins_what_the_runtime_pins():
    check, runtime = _pins(ROOT / "requirements-check.txt"), _pins(ROOT / "requirements.txt")
    assert {"pydantic", "pyyaml"} <= set(check)
    assert {name: runtime.get(name) for name in check} == check
    assert not {"pulumi", "boto3", "botocore"} & set(check)


def test_a_virtualenv_with_only_the_check_file_runs_the_check(tmp_path):
    import base64

    import yaml

    venv = tmp_path / "check"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements-check.txt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    # The example as it is once its secrets are set (ciphertext of the passphrase manager's shape).
    ciphertext = f"v1:{base64.b64encode(b'n' * 12).decode()}:{base64.b64encode(b'ciphertext and its tag').decode()}"
    text = (ROOT / "Pulumi.example.yaml").read_text()
    document = yaml.safe_load(text)
    for key, value in document["config"].items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            document["config"][key] = {"secure": ciphertext}
    for mirror in document["config"]["bitbucket-mirrors:mirrors"]:
        if "privateKey" in mirror.get("tls", {}):
            mirror["tls"]["privateKey"] = {"secure": ciphertext}
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(document))
    ok = subprocess.run(
        [str(python), "-m", "stack_config.check", str(tmp_path / "Pulumi.dev.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "no problems" in ok.stdout
    bad = subprocess.run(
        [str(python), "-m", "stack_config.check", str(ROOT / "Pulumi.example.yaml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "primaryPassword: is a placeholder" in bad.stderr, bad.stderr[-3000:]
    assert "Traceback" not in ok.stderr + bad.stderr
