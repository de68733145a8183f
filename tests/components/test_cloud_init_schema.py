"""Every #cloud-config the program renders passes the real `cloud-init schema` (Debian's cloud-init).

A schema error is not cosmetic: from cloud-init 23.4 a schema warning marks the boot "degraded" and
`cloud-init status` exits 2, which monitoring reads as a failed boot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import EXAMPLE_FILES, EXAMPLE_STACK, STACKS, run_program, unwrap_secret
from tests.resource_types import COMMAND, GET_AMI, INSTANCE

# Each variant of user data: OS, farm or single node, TLS mode, with and without a bastion.
VARIANTS = {
    "al2023 single acm": STACKS / "single-acm.yaml",
    "al2023 nginx": STACKS / "single-nginx.yaml",
    "al2023 farm": STACKS / "farm-3.yaml",
    "ubuntu and al2023 through a bastion": STACKS / "two-sites.yaml",
    "example stack": EXAMPLE_STACK,
    **{f"examples/{name}": path for name, path in EXAMPLE_FILES.items()},
}


def cloud_init() -> str:
    found = shutil.which("cloud-init")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("cloud-init is required in CI (scripts/test.sh installs Debian's cloud-init)")
        pytest.skip("cloud-init is not installed (scripts/test.sh installs it)")
    return found


def schema_errors(text: str, directory: Path) -> str:
    path = directory / "user-data.yaml"
    path.write_text(text)
    checked = subprocess.run([cloud_init(), "schema", "-c", str(path)], capture_output=True, text=True)
    return "" if checked.returncode == 0 else (checked.stdout + checked.stderr)


@pytest.mark.parametrize("stack", list(VARIANTS.values()), ids=list(VARIANTS))
def test_every_rendered_user_data_passes_cloud_init_schema(stack, tmp_path):
    instances = run_program(stack).of_type(INSTANCE)
    assert instances
    for instance in instances:
        user_data = instance.inputs["userData"]
        assert user_data.startswith("#cloud-config\n")
        assert schema_errors(user_data, tmp_path) == "", instance.name


def test_the_schema_check_catches_an_empty_key_type_list(tmp_path):
    # The check has teeth: the user data this project shipped before is refused.
    assert "too short" in schema_errors("#cloud-config\nssh_deletekeys: false\nssh_genkeytypes: []\n", tmp_path)


def test_the_variants_cover_both_systems_farms_nginx_and_a_bastion():
    runs = {name: run_program(stack) for name, stack in VARIANTS.items()}
    amis = {
        call.args.get("filters", [{}])[0].get("values", [""])[0]
        for run in runs.values()
        for call in run.calls
        if call.token == GET_AMI
    }
    assert any("al2023" in a for a in amis) and any("ubuntu" in a for a in amis), amis
    assert any(len(r.of_type(INSTANCE)) >= 3 for r in runs.values())
    assert runs["al2023 nginx"].of_type(INSTANCE)
    commands = runs["ubuntu and al2023 through a bastion"].of_type(COMMAND)
    assert any(unwrap_secret(c.inputs["connection"]).get("proxy") for c in commands)
