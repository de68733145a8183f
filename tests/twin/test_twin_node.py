"""The twin's node runs the program's own commands and the install script it stages, in a scratch
root, with the world answering only for systemd, mounts, the package manager and downloads: a
change to the script changes what the twin's node does, and the SSH host key is checked."""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

import pytest

from components.bundle import bundle
from components.host_files import (
    STAGING_DIR,
    InstallSpec,
    PropertiesSpec,
    StagedFile,
    render_bitbucket_properties,
    render_install_script,
    render_systemd_unit,
)
from components.node_command import script_command, unpack_bundle
from components.rollout import RELEASE_HOME
from providers.setup_properties import render_setup_block
from twin.clock import Scheduler
from twin.durations import seconds
from twin.node import CommandFailed, Faults, Node
from twin.world import World
from twin.world_objects import Instance, Volume

PARAMETER = "/bitbucket-mirrors/test/fra-node0/ssh-host-ed25519-key"
PRIVATE, PUBLIC = "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----\n", "ssh-ed25519 AAAAk"
INSTALL = f"sudo bash {STAGING_DIR}/{StagedFile.INSTALL_SCRIPT}"  # as components/install.py runs it


class Site:
    """One node with its home volume in a world on modelled time; every call runs as a process."""

    def __init__(self, faults: Faults = Faults()) -> None:
        self.sched = Scheduler()
        self.world = World(self.sched)
        self.joins: list[tuple[str, str]] = []
        self.world.join_mirror = self._join
        self.refuse_join = False
        self.node = Node(self.world, faults)
        self.instance: Instance
        self.volume: Volume
        self.modelled(self._launch)

    def _join(self, instance, home, version, ready_at) -> Optional[str]:
        if self.refuse_join:
            return None
        self.joins.append((instance.name, version))
        home.mirror = home.mirror or "mirror-1"
        return home.mirror

    def _launch(self) -> None:
        user_data = f"#!/bin/bash\nparameter={PARAMETER}\n"
        self.instance = self.world.launch(
            "fra-node0", "eu-central-1", "eu-central-1a", "m6i.xlarge", True, {}, user_data
        )
        self.volume = self.world.create_volume("eu-central-1", "eu-central-1a", 100, {})
        self.world.attach(self.volume, self.instance, "/dev/sdf")
        self.world.parameters[PARAMETER] = PRIVATE
        self.node.public_keys[PRIVATE] = PUBLIC
        self.world.wait("ec2.boot")

    def modelled(self, fn: Callable[[], Any]) -> Any:
        result: dict[str, Any] = {}

        def body() -> None:
            self.sched.enter("test")
            try:
                result["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
                result["error"] = exc
            finally:
                self.sched.leave()

        thread = threading.Thread(target=body)
        thread.start()
        thread.join(120)
        if "error" in result:
            raise result["error"]
        return result.get("value")

    @property
    def connection(self) -> dict:
        return {"host": self.instance.public_ip, "user": "ec2-user", "hostKey": PUBLIC, "dialErrorLimit": 1}

    def run(self, command: str, stdin: Optional[str] = None) -> str:
        return self.modelled(lambda: self.node.run(self.connection, command, stdin))

    def script(self, version: str) -> str:
        # A short status timeout: a start that never comes fails in 300 modelled seconds (a first start takes 150).
        return render_install_script(InstallSpec(version, self.volume.id, "acm", status_timeout_s=300))

    def files(self, version: str, generation: str = "gen-1", script: Optional[str] = None) -> dict[str, str]:
        base = "https://mirror-fra.example.com"
        return {
            StagedFile.INSTALL_SCRIPT: script or self.script(version),
            StagedFile.PROPERTIES: render_bitbucket_properties(
                PropertiesSpec(render_setup_block("Frankfurt", base, "https://bitbucket.example.com"), base)
            ),
            StagedFile.SYSTEMD_UNIT: render_systemd_unit(),
            StagedFile.GENERATION: generation + "\n",
        }

    def install(self, version: str, **files: Any) -> str:
        self.run(unpack_bundle(STAGING_DIR, private=True), bundle(self.files(version, **files)))
        return self.run(INSTALL)

    @property
    def state(self) -> str:
        return self.instance.run_at(self.world.now).state


@pytest.fixture
def site():
    made = Site()
    yield made
    made.sched.stop()


def test_the_staged_install_script_installs_and_starts_bitbucket_in_modelled_time(site):
    started = site.world.now
    site.install("9.4.16")
    home = site.volume.home
    assert site.instance.answers_at(site.world.now) and site.instance.root.current == "9.4.16"
    assert home.generation == "gen-1" and "setup.baseUrl=https://mirror-fra.example.com" in (home.properties or "")
    assert home.version == "9.4.16" and site.instance.root.mounted == site.volume.id
    # packages, the download, the first start: the durations table's, not the script's wall time.
    floor = seconds("node.packages") + seconds("node.download") + seconds("bitbucket.first_start")
    assert floor <= site.world.now - started <= floor + 30


def test_a_broken_staged_script_fails_the_twins_install(site):
    broken = site.script("9.4.16").replace('  main "$@"\n', '  echo "broken on purpose" >&2; exit 3\n')
    with pytest.raises(CommandFailed, match="status 3.*broken on purpose"):
        site.install("9.4.16", script=broken)
    assert site.state == "stopped" and site.instance.root.current is None


def test_the_script_decides_what_happens_a_script_that_never_claims_the_home_keeps_the_old_mirror(site):
    site.install("9.4.16", generation="gen-1")
    site.install("9.4.16", generation="gen-2")  # a rebuilt mirror: the script empties the home
    assert site.volume.home.generation == "gen-2" and site.volume.home.mirror == "mirror-1"
    assert len(site.joins) == 2  # started again, on an emptied home, as a new mirror

    other = Site()
    try:
        other.install("9.4.16", generation="gen-1")
        other.volume.home.files["shared/data/repositories/1"] = "a repository"
        script = other.script("9.4.16")
        other.install("9.4.16", generation="gen-2", script=script.replace("  claim_home\n", ""))
        assert other.volume.home.generation == "gen-1"  # the script no longer claims: the twin neither
        assert other.volume.home.files["shared/data/repositories/1"] == "a repository"
    finally:
        other.sched.stop()


def test_a_rebuilt_mirrors_home_is_emptied_by_the_script(site):
    site.install("9.4.16", generation="gen-1")
    site.volume.home.files["shared/data/repositories/1"] = "a repository"
    site.install("9.4.16", generation="gen-2")
    assert "shared/data/repositories/1" not in site.volume.home.files


def test_stop_for_upgrade_stops_a_node_on_another_minor_line_and_keeps_a_bug_fix_serving(site):
    site.install("9.4.16")
    site.run(script_command("--stop-for-upgrade gen-1"), site.script("9.4.17"))
    assert site.state == "running"
    site.run(script_command("--stop-for-upgrade gen-1"), site.script("9.5.0"))
    assert site.state == "stopped"


def test_an_upgrade_in_place_that_does_not_start_fails_after_the_status_timeout():
    failing = Site(Faults(failing_nodes=frozenset({0})))
    try:
        failing.install("9.4.16")  # a first install changes the version: the injected fault applies
    except CommandFailed as exc:
        assert "did not reach RUNNING within 300 s" in str(exc)
    else:
        pytest.fail("the install succeeded although Bitbucket never started")
    finally:
        failing.sched.stop()


def test_releasing_the_home_stops_bitbucket_and_unmounts_it(site):
    site.install("9.4.16")
    site.run(RELEASE_HOME)
    assert site.state == "stopped" and site.instance.root.mounted is None
    site.world.detach(site.volume)  # not busy: EC2 detaches it
    assert site.volume.attached_to is None


def test_a_missing_host_key_fails_the_connection(site):
    del site.world.parameters[PARAMETER]  # the boot found no key to install: sshd made its own
    with pytest.raises(CommandFailed, match="host key mismatch"):
        site.run(INSTALL)


def test_a_host_key_other_than_the_pinned_one_fails_the_connection(site):
    site.node.public_keys[PRIVATE] = "ssh-ed25519 AAAAother"
    with pytest.raises(CommandFailed, match="host key mismatch"):
        site.run(INSTALL)


def test_a_node_refused_at_the_join_does_not_upgrade_its_home(site):
    site.install("9.4.16")
    site.refuse_join = True
    with pytest.raises(CommandFailed, match="did not reach RUNNING"):
        site.install("9.4.17")
    assert site.volume.home.version == "9.4.16"


def test_in_a_whole_up_the_node_runs_the_script_the_program_rendered(monkeypatch):
    """The program's own staging and commands, through the engine: a script that fails stops the up."""
    from components import host_files
    from twin.scenarios import SCENARIOS, run_scenario

    rendered = host_files.render_install_script
    monkeypatch.setattr(
        host_files,
        "render_install_script",
        lambda spec: rendered(spec).replace('  main "$@"\n', '  echo "a broken release" >&2; exit 3\n'),
    )
    report = run_scenario(SCENARIOS["farm3-bugfix"])
    assert not report["converged"]
    assert "preflight: Process exited with status 3" in report["error"] and "a broken release" in report["error"]


def test_the_script_verifies_the_archive_against_the_vendors_md5(site):
    site.node.vendor.prepare(site.script("9.4.16"))
    site.node.vendor.archive("9.4.16").write_bytes(b"not the archive the feed lists")
    with pytest.raises(CommandFailed, match="refusing to install it"):
        site.install("9.4.16")
    assert site.instance.root.current is None


def test_an_installer_url_of_another_version_fails_the_preflight_and_stops_nothing(site):
    """mirrors[].installer pins one archive: a new bitbucketVersion without a new installer.url
    downloads the old archive, which holds no directory of the new version."""
    site.install("9.4.16")
    pinned = InstallSpec(
        "9.4.17",
        site.volume.id,
        "acm",
        installer_url="https://artifacts.internal.example.com/atlassian-bitbucket-9.4.16.tar.gz",
        installer_sha256="ab" * 32,
    )
    with pytest.raises(
        CommandFailed, match=r"holds no atlassian-bitbucket-9.4.17 directory: mirrors\[\]\.installer\.url must be"
    ):
        site.run(script_command("--preflight"), render_install_script(pinned))
    assert site.state == "running" and site.instance.root.current == "9.4.16"
