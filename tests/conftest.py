"""The two tiers of the suite.

`slow` marks every test that starts a process, opens a socket (the emulator, a provider host, a
local server), runs the program under the mocks or plays the twin. `bash scripts/test.sh --fast`
runs the rest (`-m "not slow"`): pure functions and models, in well under a minute. CI runs both.

A test is slow because of where it lives (SLOW_MODULES: whole modules that work that way) or what
it asks for (SLOW_FIXTURES). The fast tier is kept honest by a guard, not by this list: under
`--fast`, a test that starts a process, opens a network socket or runs the program fails, saying
which to mark.
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

FAST = os.environ.get("BITBUCKET_MIRRORS_FAST_TIER") == "1"

SLOW_MODULES = (
    "tests/provider_host/",  # the SDK's provider host, a process, driven over gRPC
    # The program under the mocks, or the real tools on what it renders:
    "tests/components/test_backup_restore_os_image.py",
    "tests/components/test_boot.py",
    "tests/components/test_cloud_init_schema.py",
    "tests/components/test_decisions.py",
    "tests/components/test_destroy_without_primary.py",
    "tests/components/test_farm_membership.py",
    "tests/components/test_kms_key.py",
    "tests/components/test_monitoring.py",
    "tests/components/test_network.py",
    "tests/components/test_program.py",
    "tests/components/test_regions.py",
    "tests/components/test_rollout.py",
    "tests/components/test_root_volume.py",
    "tests/components/test_secret_scan.py",
    "tests/components/test_site_rebuild.py",
    # The providers against the emulator over HTTPS, or moto:
    "tests/providers/test_answer_bounds.py",  # trickling, gzip-bomb and redirecting loopback servers
    "tests/providers/test_backup.py",
    "tests/providers/test_client.py",
    "tests/providers/test_emulator_by_hand.py",
    "tests/providers/test_emulator_openapi.py",
    "tests/providers/test_hostile_primary.py",
    "tests/providers/test_mirror_approval.py",
    "tests/providers/test_mirror_setup.py",
    "tests/providers/test_mirrored_projects.py",
    "tests/providers/test_rollout_decisions.py",
    "tests/providers/test_targets_idempotent.py",
    "tests/providers/test_leaving.py",  # moto's elbv2
    "tests/providers/test_orphans.py",  # moto's EC2
    # bash, shellcheck, nginx, curl on the rendered files:
    "tests/host_files/test_install_downloads.py",
    "tests/host_files/test_hostile_downloads.py",
    "tests/host_files/test_install_script.py",
    "tests/host_files/test_metrics_publisher.py",
    "tests/host_files/test_nginx_site.py",
    "tests/twin/test_scenarios.py",
    "tests/twin/test_readme.py",
    "tests/twin/test_rehearse.py",
    "tests/twin/test_twin_world.py",  # moto, botocore's models, the CLI in a process
    "tests/twin/test_twin_rules.py",  # the program under the twin's engine
    "tests/twin/test_twin_node.py",  # bash runs the install script in a scratch root
    "tests/twin/test_twin_network.py",  # whole stacks through the twin
    "tests/twin/test_round_trips.py",
    "tests/test_benchmark_floor.py",
    "tests/test_deployer_policy.py",
    "tests/test_runtime_requirements.py",
    "tests/test_up_script.py",
    "tests/test_self_contained.py",
    "tests/stack_config/test_engine_version.py",
    "tests/stack_config/test_check_command.py",
    "tests/stack_config/test_known_regions.py",
    "tests/stack_config/test_refused_at_preview.py",
    "tests/stack_config/test_pinned_decisions.py",
)
SLOW_FIXTURES = {"runs", "scenario", "killed", "emu", "host", "engine", "moto_aws"}


def is_slow(item: pytest.Item) -> bool:
    path = item.nodeid.split("::", 1)[0]
    return path.startswith(SLOW_MODULES) or bool(SLOW_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: starts a process or a server, runs the program or plays the twin")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)


class NotFast(AssertionError):
    """A test of the fast tier did what only the slow tier may."""


@pytest.fixture(autouse=True)
def _fast_tier_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    if not FAST or request.node.get_closest_marker("slow"):
        yield
        return

    def refuse(what: str):
        def refused(*args, **kwargs):
            raise NotFast(f"{request.node.nodeid} {what}: mark it slow (tests/conftest.py) or make it pure")

        return refused

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("starts a process"))
    monkeypatch.setattr(socket.socket, "connect", refuse("opens a connection"))
    monkeypatch.setattr(socket.socket, "bind", refuse("opens a server socket"))
    import twin.program

    monkeypatch.setattr(twin.program, "_run_isolated", refuse("runs the program"))
    yield
