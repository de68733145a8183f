"""An engine too old to hand the stack config to the providers is refused before anything is created."""

from __future__ import annotations

import pytest
import yaml

from stack_config.engine import REQUIRED_RANGE
from tests.harness import PROGRAM, ROOT, run_program
from tests.resource_types import APPROVAL


def test_the_required_range_is_the_one_pulumi_yaml_declares():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["requiredPulumiVersion"] == REQUIRED_RANGE == ">=3.139.0"


@pytest.mark.parametrize("cli_version", ["3.139.0", "3.207.0", "4.0.0"])
def test_a_cli_that_passes_config_to_providers_runs_the_program(cli_version):
    run = run_program(cli_version=cli_version)
    assert run.of_type(APPROVAL)


@pytest.mark.parametrize(
    "cli_version, engine_says",
    [
        ("3.138.0", 'Pulumi CLI version 3.138.0 does not satisfy the version range ">=3.139.0"'),
        ("3.100.1", 'Pulumi CLI version 3.100.1 does not satisfy the version range ">=3.139.0"'),
        (None, "does not support the `RequirePulumiVersion` RPC"),  # CLIs from before the RPC
    ],
)
def test_an_older_cli_is_refused_with_the_reason_before_any_resource(cli_version, engine_says):
    with pytest.raises(Exception) as caught:
        run_program(cli_version=cli_version)
    message = str(caught.value)
    assert "needs the Pulumi CLI 3.139.0 or newer" in message
    assert "dynamic providers" in message and "primaryPassword" in message
    assert engine_says in message


def test_the_check_comes_before_the_stack_config_is_read():
    # A broken stack config on an old CLI: the user is told about the CLI first, since fixing the
    # config would not make the providers work.
    text = PROGRAM.read_text()
    assert text.index("require_pulumi_cli()") < text.index("load_stack_config()")
