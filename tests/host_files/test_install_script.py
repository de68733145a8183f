"""The install script: clean under shellcheck for every variant, and its logic run for real in a
scratch root with shims only for what cannot run here."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from components.host_files import (
    STAGING_DIR,
    InstallSpec,
    NginxSiteSpec,
    PropertiesSpec,
    StagedFile,
    UnsupportedVersion,
    render_bitbucket_properties,
    render_install_script,
    render_nginx_site,
    render_systemd_unit,
    supported_runtime,
)
from providers.setup_properties import render_setup_block
from tests.shell_checks import assert_clean_shell_script

from .shims import calls, install_shims

VOLUME = "vol-0123456789abcdef0"
CERT = "-----BEGIN CERTIFICATE-----\nMIIBone\n-----END CERTIFICATE-----\n"


def variants():
    for mode, ca, installer, version in itertools.product(
        ("acm", "nginx"), (False, True), (False, True), ("9.4.16", "10.0.1")
    ):
        yield InstallSpec(
            version,
            VOLUME,
            mode,
            has_ca_bundle=ca,
            installer_url="https://artifacts.example.com/bb.tar.gz" if installer else None,
            installer_sha256="ab" * 32 if installer else None,
        )


@pytest.mark.parametrize(
    "spec",
    list(variants()),
    ids=lambda s: f"{s.tls_mode}-ca{int(s.has_ca_bundle)}-url{int(bool(s.installer_url))}-{s.bitbucket_version}",
)
def test_every_variant_passes_shellcheck_and_bash_syntax(tmp_path, spec):
    assert_clean_shell_script(render_install_script(spec), tmp_path, "install.sh")


def test_unsupported_versions_are_refused():
    with pytest.raises(UnsupportedVersion, match="older than 9.0"):
        supported_runtime("8.19.3")
    with pytest.raises(ValueError, match="^bitbucket_version"):
        InstallSpec("9.4", VOLUME, "acm")
    assert supported_runtime("9.4.16").openssh_min == "7.2"


def feed_entry(version: str, md5: str, kind: str = "TAR.GZ Archive") -> dict:
    """One download as the vendor's feed lists it (my.atlassian.com/download/feeds/.../stash.json)."""
    suffix = {"TAR.GZ Archive": ".tar.gz", "ZIP Archive": ".zip", "Linux 64bit Installer": "-x64.bin"}[kind]
    return {
        "description": f"{version} ({kind})",
        "edition": "Enterprise",
        "zipUrl": f"https://www.atlassian.com/software/stash/downloads/binary/atlassian-bitbucket-{version}{suffix}",
        "tarUrl": None,
        "md5": md5,
        "size": "535.8 MB",
        "released": "12-Jan-2026",
        "type": "Binary",
        "platform": "Mac OS X, Unix, Windows",
        "version": version,
    }


class Host:
    """A scratch root with staged files, shims, a fake Bitbucket archive per version and the
    vendor's download feeds listing each archive's MD5, as the vendor publishes it."""

    def __init__(self, tmp: Path):
        self.root = tmp / "root"
        self.shims = install_shims(tmp / "shims")
        self.log = tmp / "shim.log"
        self.archives: dict[str, Path] = {}
        self.feeds = {"current": tmp / "feeds/current.json", "archived": tmp / "feeds/archived.json"}
        self.feeds["current"].parent.mkdir(parents=True)
        self.write_feed("current", [feed_entry("9.9.9", "0" * 32)])  # lists other releases only
        self.write_feed("archived", [])
        (self.root / "etc").mkdir(parents=True)
        (self.root / "etc/os-release").write_text('NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n')
        device = self.root / "dev/disk/by-id" / f"nvme-Amazon_Elastic_Block_Store_{VOLUME.replace('-', '')}"
        device.parent.mkdir(parents=True)
        device.touch()
        self.env: dict[str, str] = {
            "FAKE_FEED_CURRENT": str(self.feeds["current"]),
            "FAKE_FEED_ARCHIVED": str(self.feeds["archived"]),
        }

    def write_feed(
        self, which: str, entries: list[dict], jsonp: bool = False, escaped: bool = False, pretty: bool = False
    ) -> None:
        body = json.dumps(entries, indent=2) if pretty else json.dumps(entries, separators=(",", ":"))
        if escaped:  # JSON may write "/" as "\/"
            body = body.replace("/", "\\/")
        self.feeds[which].write_text(f"downloads({body})" if jsonp else body)

    def archive(self, version: str) -> Path:
        path = self.root.parent / f"atlassian-bitbucket-{version}.tar.gz"
        if path.exists():
            return path  # built once: a rebuild would change its bytes (gzip's timestamp)
        with tarfile.open(path, "w:gz") as tar:
            data = b"#!/bin/sh\necho started\n"
            info = tarfile.TarInfo(f"atlassian-bitbucket-{version}/bin/start-bitbucket.sh")
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        # The vendor lists every release's archive with its MD5 in the archived feed.
        archived = json.loads(self.feeds["archived"].read_text())
        archived.append(feed_entry(version, hashlib.md5(path.read_bytes()).hexdigest()))
        self.write_feed("archived", archived)
        return path

    def stage(self, spec: InstallSpec, nginx: bool = False, ca: str = "", generation: str = "") -> None:
        staging = self.root / STAGING_DIR.lstrip("/")
        staging.mkdir(parents=True, exist_ok=True)
        base = "https://mirror-syd.example.com"
        files = {
            StagedFile.INSTALL_SCRIPT: render_install_script(spec),
            StagedFile.PROPERTIES: render_bitbucket_properties(
                PropertiesSpec(render_setup_block("Sydney", base, "https://bitbucket.example.com"), base)
            ),
            StagedFile.SYSTEMD_UNIT: render_systemd_unit(),
        }
        if nginx:
            files[StagedFile.NGINX_SITE] = render_nginx_site(NginxSiteSpec("mirror-syd.example.com"))
            files[StagedFile.TLS_CERT] = CERT
            files[StagedFile.TLS_KEY] = "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n"
        if ca:
            files[StagedFile.CA_BUNDLE] = ca
        if generation:
            files[StagedFile.GENERATION] = generation + "\n"
        for name, text in files.items():
            (staging / name).write_text(text)
        self.env["FAKE_ARCHIVE"] = str(self.archive(spec.bitbucket_version))

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        script = self.root / STAGING_DIR.lstrip("/") / StagedFile.INSTALL_SCRIPT
        environment = {
            **os.environ,
            "BBM_ROOT": str(self.root),
            "SHIM_LOG": str(self.log),
            "PATH": f"{self.shims}:{os.environ['PATH']}",
            **self.env,
            **env,
        }
        return subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=environment, timeout=60)

    def preflight(self, spec: InstallSpec, **env: str) -> subprocess.CompletedProcess:
        """As the site's preflight runs it: the script on stdin, nothing staged for it."""
        return self.on_stdin(spec, "--preflight", FAKE_ARCHIVE=str(self.archive(spec.bitbucket_version)), **env)

    def on_stdin(self, spec: InstallSpec, *args: str, **env: str) -> subprocess.CompletedProcess:
        """The script sent on stdin in one of its modes (as the preflight and stop-for-upgrade run it)."""
        environment = {
            **os.environ,
            "BBM_ROOT": str(self.root),
            "SHIM_LOG": str(self.log),
            "PATH": f"{self.shims}:{os.environ['PATH']}",
            **self.env,
            **env,
        }
        return subprocess.run(
            ["bash", "-s", "--", *args],
            input=render_install_script(spec),
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
        )

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")


@pytest.fixture
def host(tmp_path) -> Host:
    return Host(tmp_path)


HOME = "/var/atlassian/application-data/bitbucket"
CURRENT = "/opt/atlassian/bitbucket/current"


def test_first_install_formats_mounts_unpacks_configures_and_starts(host):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert os.readlink(host.path(CURRENT)) == "9.4.16"
    assert (host.path(CURRENT) / "bin/start-bitbucket.sh").exists()
    properties = host.path(HOME + "/shared/bitbucket.properties")
    assert "application.mode=mirror" in properties.read_text()
    assert oct(properties.stat().st_mode & 0o777) == "0o600"
    fstab = host.path("/etc/fstab").read_text().splitlines()
    assert fstab == [f"UUID=0a1b2c3d-0000-4000-8000-123456789abc {HOME} xfs defaults,nofail 0 2"]
    assert len(calls(host.log, "mkfs.xfs")) == 1
    assert host.path("/etc/systemd/system/atlbitbucket.service").read_text() == render_systemd_unit()
    assert any("restart atlbitbucket" in c for c in calls(host.log, "systemctl"))
    assert "RUNNING as a mirror" in result.stderr
    dnf = calls(host.log, "dnf")[0]
    assert "java-17-amazon-corretto-headless" in dnf and "nginx" not in dnf


def test_re_run_changes_nothing(host):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    assert host.run().returncode == 0
    host.log.unlink()
    second = host.run()
    assert second.returncode == 0, second.stderr
    assert len(host.path("/etc/fstab").read_text().splitlines()) == 1, "fstab line written once"
    assert calls(host.log, "mkfs.xfs") == [], "an existing filesystem is never formatted"
    assert calls(host.log, "curl") == [c for c in calls(host.log, "curl") if "/status" in c], "no second download"
    assert not any("restart" in c for c in calls(host.log, "systemctl")), "nothing changed, no restart"


def test_version_change_upgrades_in_place_keeping_the_home(host):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    assert host.run().returncode == 0
    marker = host.path(HOME + "/shared/data/repositories/1/HEAD")
    marker.parent.mkdir(parents=True)
    marker.write_text("ref: refs/heads/main\n")
    host.stage(InstallSpec("9.4.17", VOLUME, "acm"))
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert os.readlink(host.path(CURRENT)) == "9.4.17"
    assert marker.read_text() == "ref: refs/heads/main\n"
    assert any(c == "systemctl stop atlbitbucket" for c in calls(host.log, "systemctl"))
    assert "upgrading in place from 9.4.16 to 9.4.17" in result.stderr


def test_checksum_mismatch_is_refused_and_the_download_removed(host):
    host.stage(
        InstallSpec(
            "9.4.16", VOLUME, "acm", installer_url="https://artifacts.example.com/bb.tar.gz", installer_sha256="00" * 32
        )
    )
    result = host.run()
    assert result.returncode != 0
    assert "sha256 is not 0000" in result.stderr
    downloads = host.path("/opt/atlassian/bitbucket/downloads")
    assert list(downloads.iterdir()) == []
    assert not host.path(CURRENT).exists()


def test_matching_checksum_installs(host):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    digest = hashlib.sha256(Path(host.env["FAKE_ARCHIVE"]).read_bytes()).hexdigest()
    host.stage(
        InstallSpec(
            "9.4.16", VOLUME, "acm", installer_url="https://artifacts.example.com/bb.tar.gz", installer_sha256=digest
        )
    )
    assert host.run().returncode == 0


@pytest.mark.parametrize(
    "env, message",
    [
        ({"JAVA_VERSION": "11.0.20"}, "Java 17 or newer is required by Bitbucket 9.4.16, found '11'"),
        ({"GIT_VERSION": "2.25.1"}, "Git 2.31.0 or newer is required by Bitbucket 9.4.16, found '2.25.1'"),
        ({"SSH_VERSION": "7.1"}, "OpenSSH 7.2 or newer is required for mirror synchronisation, found '7.1'"),
    ],
)
def test_old_runtime_is_refused_before_anything_is_installed(host, env, message):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    result = host.run(**env)
    assert result.returncode != 0 and message in result.stderr
    assert not host.path(CURRENT).exists() and calls(host.log, "mkfs.xfs") == []


@pytest.mark.parametrize(
    "env, message",
    [
        ({"JAVA_VERSION": "11.0.20"}, "Java 17 or newer is required by Bitbucket 9.5.0, found '11'"),
        ({"GIT_VERSION": "2.25.1"}, "Git 2.31.0 or newer is required by Bitbucket 9.5.0, found '2.25.1'"),
        ({"SSH_VERSION": "7.1"}, "OpenSSH 7.2 or newer is required for mirror synchronisation, found '7.1'"),
    ],
)
def test_preflight_refuses_a_runtime_the_target_version_cannot_use_while_bitbucket_keeps_running(host, env, message):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    assert host.run().returncode == 0
    host.log.unlink()
    result = host.preflight(InstallSpec("9.5.0", VOLUME, "acm"), **env)
    assert result.returncode != 0 and message in result.stderr
    assert calls(host.log, "systemctl") == [] and os.readlink(host.path(CURRENT)) == "9.4.16"


def test_preflight_on_a_ready_node_installs_the_runtime_and_unpacks_the_target_beside_the_running_one(host):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    assert host.run().returncode == 0
    host.log.unlink()
    result = host.preflight(InstallSpec("9.5.0", VOLUME, "acm"))
    assert result.returncode == 0, result.stderr
    assert "node ready for Bitbucket 9.5.0" in result.stderr
    assert calls(host.log, "dnf") and calls(host.log, "systemctl") == [] and calls(host.log, "mount") == []
    # Downloaded and verified before any node stops (a minor upgrade's outage is its restart only).
    downloads = [c for c in calls(host.log, "curl") if "/download/feeds/" not in c]
    assert len(downloads) == 1 and downloads[0].endswith("/atlassian-bitbucket-9.5.0.tar.gz")
    assert (host.path("/opt/atlassian/bitbucket/9.5.0") / "bin/start-bitbucket.sh").exists()
    assert os.readlink(host.path(CURRENT)) == "9.4.16"
    # Run again before 9.5.0 runs anywhere here (`pulumi up --replace` after the site refused what the
    # nodes verified): the tree is verified anew, since the site has trusted no bytes for it yet ...
    host.log.unlink()
    assert host.preflight(InstallSpec("9.5.0", VOLUME, "acm")).returncode == 0
    assert [c for c in calls(host.log, "curl") if c.endswith("/atlassian-bitbucket-9.5.0.tar.gz")]
    # ... while with the sha256 the site recorded, the tree that says it holds those bytes is enough.
    digest = (host.path("/opt/atlassian/bitbucket/9.5.0") / ".bitbucket-mirrors-archive.sha256").read_text().strip()
    host.log.unlink()
    assert host.preflight(InstallSpec("9.5.0", VOLUME, "acm", trusted_sha256=digest)).returncode == 0
    assert calls(host.log, "curl") == []


GEN_A, GEN_B = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
MARKER = HOME + "/.bitbucket-mirrors-generation"


def test_a_home_without_a_generation_is_claimed_as_it_is(host):
    # A home from before generations were written (or a new one): nothing is emptied.
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    assert host.run().returncode == 0
    kept = host.path(HOME + "/shared/data/repositories/1")
    kept.mkdir(parents=True)
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"), generation=GEN_A)
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert kept.exists() and host.path(MARKER).read_text() == GEN_A + "\n"
    assert "emptying" not in result.stderr


def test_a_home_of_another_generation_is_emptied_before_bitbucket_starts_as_a_new_mirror(host):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"), generation=GEN_A)
    assert host.run().returncode == 0
    old = host.path(HOME + "/shared/data/repositories/1")
    old.mkdir(parents=True)
    host.log.unlink()
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"), generation=GEN_B)
    result = host.run()
    assert result.returncode == 0, result.stderr
    assert not old.exists() and host.path(MARKER).read_text() == GEN_B + "\n"
    assert "generation aaaaaaaaaaaaaaaa -> bbbbbbbbbbbbbbbb" in result.stderr
    # Stopped before the home is emptied, started again with the new setup written.
    systemctl = calls(host.log, "systemctl")
    assert systemctl.index("systemctl stop atlbitbucket") < systemctl.index("systemctl restart atlbitbucket")
    assert "setup.displayName=Sydney" in host.path(HOME + "/shared/bitbucket.properties").read_text()
    host.log.unlink()
    result = host.run()
    assert result.returncode == 0 and "emptying" not in result.stderr  # the same generation: kept
    assert [c for c in calls(host.log, "systemctl") if "stop" in c] == []


def _installed(host, version: str, generation: str = GEN_A) -> None:
    host.stage(InstallSpec(version, VOLUME, "acm"), generation=generation)
    assert host.run().returncode == 0
    host.log.unlink()


@pytest.mark.parametrize(
    "target, wanted, stops",
    [
        ("9.5.0", GEN_A, True),  # another minor line: cannot join the farm node 0 starts
        ("9.4.17", GEN_A, False),  # a bug-fix upgrade rolls: keep serving
        ("9.4.16", GEN_B, True),  # another mirror (a rebuild)
        ("9.4.16", GEN_A, False),  # nothing changes for this node
    ],
)
def test_stop_for_upgrade_stops_only_a_node_that_cannot_join_the_new_farm(host, target, wanted, stops):
    _installed(host, "9.4.16")
    result = host.on_stdin(InstallSpec(target, VOLUME, "acm"), "--stop-for-upgrade", wanted)
    assert result.returncode == 0, result.stderr
    assert ("systemctl stop atlbitbucket" in calls(host.log, "systemctl")) is stops
    assert calls(host.log, "dnf") == [] and calls(host.log, "curl") == []  # quick: it only decides


def test_stop_for_upgrade_on_a_node_with_nothing_installed_does_nothing(host):
    result = host.on_stdin(InstallSpec("9.5.0", VOLUME, "acm"), "--stop-for-upgrade", GEN_A)
    assert result.returncode == 0 and calls(host.log, "systemctl") == []


def test_stop_for_upgrade_starts_a_stopped_node_that_runs_what_the_farm_runs(host):
    # An earlier minor upgrade stopped it and the config went back to its version.
    _installed(host, "9.4.16")
    host.path(".active").unlink()
    result = host.on_stdin(InstallSpec("9.4.16", VOLUME, "acm"), "--stop-for-upgrade", GEN_A)
    assert result.returncode == 0, result.stderr
    assert "systemctl start atlbitbucket" in calls(host.log, "systemctl")
    host.log.unlink()
    host.on_stdin(InstallSpec("9.4.17", VOLUME, "acm"), "--stop-for-upgrade", GEN_A)
    assert "systemctl start atlbitbucket" not in calls(host.log, "systemctl")  # another version: its install starts it


def test_unsupported_os_is_refused(host):
    host.path("/etc/os-release").write_text('ID="centos"\nVERSION_ID="7"\n')
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    result = host.run()
    assert result.returncode != 0 and "unsupported OS 'centos 7'" in result.stderr


def test_status_timeout_fails_with_the_log_tail(host):
    host.stage(InstallSpec("9.4.16", VOLUME, "acm", status_timeout_s=10))
    log = host.path(HOME + "/log/atlassian-bitbucket.log")
    log.parent.mkdir(parents=True)
    log.write_text("INFO starting\nERROR Unable to connect to the upstream\n")
    result = host.run(STATUS_BODY='{"state":"STARTING"}')
    assert result.returncode == 1
    assert "did not reach RUNNING within 10 s (last state: 'STARTING')" in result.stderr
    assert "ERROR Unable to connect to the upstream" in result.stderr
    assert "journal: Bitbucket failed" in result.stderr


def test_nginx_mode_installs_site_certificate_and_private_key(host):
    host.stage(InstallSpec("9.4.16", VOLUME, "nginx"), nginx=True)
    result = host.run()
    assert result.returncode == 0, result.stderr
    key = host.path("/etc/bitbucket-mirror/tls/tls.key")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert host.path("/etc/bitbucket-mirror/tls/tls.crt").read_text() == CERT
    site = host.path("/etc/nginx/conf.d/bitbucket-mirror.conf").read_text()
    assert "ssl_certificate_key /etc/bitbucket-mirror/tls/tls.key;" in site
    assert calls(host.log, "nginx") == ["nginx -t"]
    assert "nginx" in calls(host.log, "dnf")[0]


def test_ca_bundle_is_imported_into_the_jvm_once(host):
    bundle = CERT + CERT.replace("MIIBone", "MIIBtwo")
    host.stage(InstallSpec("9.4.16", VOLUME, "acm", has_ca_bundle=True), ca=bundle)
    assert host.run().returncode == 0
    imports = [c for c in calls(host.log, "keytool") if "-importcert" in c]
    assert [c.split("-alias ")[1].split()[0] for c in imports] == ["bitbucket-mirrors-ca-1", "bitbucket-mirrors-ca-2"]
    host.log.unlink()
    assert host.run().returncode == 0
    assert calls(host.log, "keytool") == [], "an unchanged bundle is not imported again"


def test_ubuntu_uses_apt_and_openjdk(host):
    host.path("/etc/os-release").write_text('ID=ubuntu\nVERSION_ID="24.04"\n')
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    assert host.run().returncode == 0
    assert any("openjdk-17-jre-headless" in c for c in calls(host.log, "apt-get"))


JMX = InstallSpec("9.4.16", VOLUME, "acm", jmx_exporter=True)


def test_the_jmx_variant_passes_shellcheck(tmp_path):
    assert_clean_shell_script(render_install_script(JMX), tmp_path, "install.sh")


def test_a_jmx_exporter_with_another_checksum_is_refused(host):
    # The download shim hands out the fake Bitbucket archive: not the pinned agent.
    host.stage(JMX)
    result = host.run()
    assert result.returncode != 0
    assert "the JMX exporter's sha256 is not a95983fd" in result.stderr and "refusing to run it" in result.stderr
    assert not host.path("/opt/atlassian/bitbucket/jmx/jmx_prometheus_javaagent-1.6.0.jar").exists()
    assert not host.path("/opt/atlassian/bitbucket/jmx/jmx_prometheus_javaagent-1.6.0.jar.part").exists()


def test_the_pinned_jmx_exporter_is_installed_once_with_its_config(host):
    from components.host_files.specs import JMX_EXPORTER_SHA256

    host.stage(JMX)
    fake_agent = Path(host.env["FAKE_ARCHIVE"])
    script = host.path(STAGING_DIR) / StagedFile.INSTALL_SCRIPT
    # Pretend the download is the pinned agent by pinning what the shim serves (the check is real).
    script.write_text(
        script.read_text().replace(JMX_EXPORTER_SHA256, hashlib.sha256(fake_agent.read_bytes()).hexdigest())
    )
    first = host.run()
    assert first.returncode == 0, first.stderr
    jar = host.path("/opt/atlassian/bitbucket/jmx/jmx_prometheus_javaagent-1.6.0.jar")
    assert jar.read_bytes() == fake_agent.read_bytes()
    assert (jar.parent / "config.yaml").read_text() == 'rules:\n  - pattern: ".*"\n'
    downloads = len([c for c in calls(host.log, "curl") if "jmx_prometheus_javaagent" in c])
    again = host.run()
    assert again.returncode == 0, again.stderr
    assert len([c for c in calls(host.log, "curl") if "jmx_prometheus_javaagent" in c]) == downloads == 1


def test_a_new_home_volume_replaces_the_old_homes_fstab_line(host):
    fstab = host.path("/etc/fstab")
    fstab.write_text(
        "UUID=11111111-old-home /var/atlassian/application-data/bitbucket xfs defaults,nofail 0 2\n"
        "LABEL=/ / xfs defaults 0 0\n"
    )
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"))
    result = host.run()
    assert result.returncode == 0, result.stderr
    lines = fstab.read_text().splitlines()
    assert "LABEL=/ / xfs defaults 0 0" in lines
    homes = [line for line in lines if " /var/atlassian/application-data/bitbucket " in line]
    assert homes == [
        "UUID=0a1b2c3d-0000-4000-8000-123456789abc /var/atlassian/application-data/bitbucket xfs defaults,nofail 0 2"
    ]


SSH_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEsite\n-----END RSA PRIVATE KEY-----\n"


def _stage_key(host, key: str, generation: str = GEN_A) -> None:
    host.stage(InstallSpec("9.4.16", VOLUME, "acm"), generation=generation)
    (host.root / STAGING_DIR.lstrip("/") / StagedFile.SSH_SERVER_KEY).write_text(key)


def test_the_sites_ssh_host_key_is_in_the_home_before_bitbucket_starts_and_survives_a_rebuild(host):
    target = host.path(HOME + "/shared/config/ssh-server-keys.pem")
    _stage_key(host, SSH_KEY)
    assert host.run().returncode == 0
    assert target.read_text() == SSH_KEY and oct(target.stat().st_mode & 0o777) == "0o400"
    # A rebuilt mirror's emptied home gets the same key again.
    _stage_key(host, SSH_KEY, generation=GEN_B)
    result = host.run()
    assert result.returncode == 0 and "emptying its home" in result.stderr
    assert target.read_text() == SSH_KEY
    # A new key (never by this tool on its own) restarts Bitbucket to take it.
    host.log.unlink()
    _stage_key(host, SSH_KEY.replace("site", "other"), generation=GEN_B)
    assert host.run().returncode == 0
    assert "systemctl restart atlbitbucket" in calls(host.log, "systemctl")
