"""What the component tests share: the program run once per stack file, for the whole session."""

from __future__ import annotations

import pytest

from tests.harness import EXAMPLE_FILES, EXAMPLE_STACK, STACKS, ProgramRun, run_program

TLS_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQ-nginx-key-material\n-----END PRIVATE KEY-----\n"
BASTION_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbastion-key-material\n-----END OPENSSH PRIVATE KEY-----\n"
SECRETS = {"mirrors[0].tls.privateKey": TLS_KEY, "network.bastion.privateKey": BASTION_KEY}


@pytest.fixture(scope="session")
def runs() -> dict[str, ProgramRun]:
    """Every stack file under twin/stacks, the example and examples/ (by name: farm, fleet), run under the
    mocks (runs are read, never changed)."""
    stacks = {p.stem: p for p in STACKS.glob("*.yaml")}
    stacks["example"] = EXAMPLE_STACK
    stacks.update(EXAMPLE_FILES)
    return {name: run_program(path, SECRETS) for name, path in stacks.items()}
