"""The nginx site, checked by the real nginx: `nginx -t`, then a live nginx on loopback in front of
the emulator's mirror, with the headers Bitbucket needs behind a TLS-terminating proxy."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests
import trustme

from components.host_files import NginxSiteSpec, render_nginx_site
from twin.emulator import Emulator

HOST = "mirror-syd.example.com"


def free_ports(n: int) -> list[int]:
    """n distinct ports, each free on every address the site listens on (0.0.0.0 and [::]): the kernel
    picks them (bind to port 0), all sockets held until every port is chosen, so no two coincide. Another
    process may still take one before nginx binds it: `live` then starts nginx again on new ports."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < n:
            v4 = socket.socket(socket.AF_INET)
            held.append(v4)
            v4.bind(("0.0.0.0", 0))
            port = v4.getsockname()[1]
            if socket.has_ipv6:
                v6 = socket.socket(socket.AF_INET6)
                held.append(v6)
                v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    v6.bind(("::", port))
                except OSError:
                    continue  # taken on IPv6: another one
            ports.append(port)
        return ports
    finally:
        for s in held:
            s.close()


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    assert found, "nginx is required (scripts/test.sh installs it)"
    return found


def prefix_with_site(tmp: Path, spec_kwargs: dict, ca: trustme.CA) -> tuple[Path, NginxSiteSpec]:
    cert = ca.issue_cert(HOST, "127.0.0.1")
    cert_path, key_path = tmp / "tls.crt", tmp / "tls.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    spec = NginxSiteSpec(HOST, cert_path=str(cert_path), key_path=str(key_path), **spec_kwargs)
    (tmp / "site.conf").write_text(render_nginx_site(spec))
    for sub in ("logs", "tmp"):
        (tmp / sub).mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(f"""{user}worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/tmp/body;
    proxy_temp_path {tmp}/tmp/proxy;
    fastcgi_temp_path {tmp}/tmp/fastcgi;
    uwsgi_temp_path {tmp}/tmp/uwsgi;
    scgi_temp_path {tmp}/tmp/scgi;
    include {tmp}/site.conf;
}}
""")
    return tmp, spec


def test_nginx_accepts_the_rendered_site(tmp_path):
    https_port, http_port = free_ports(2)
    prefix, _ = prefix_with_site(tmp_path, {"https_port": https_port, "http_port": http_port}, trustme.CA())
    result = subprocess.run(
        [nginx_binary(), "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_production_site_has_the_documented_settings():
    site = render_nginx_site(NginxSiteSpec(HOST))
    for line in (
        "listen 443 ssl http2;",
        "listen 80;",
        "return 301 https://$host$request_uri;",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "client_max_body_size 0;",
        "proxy_pass http://127.0.0.1:7990;",
        "proxy_buffering off;",
        "proxy_request_buffering off;",
        "proxy_read_timeout 3600s;",
        "proxy_set_header X-Forwarded-Proto https;",
        "ssl_certificate /etc/bitbucket-mirror/tls/tls.crt;",
    ):
        assert line in site, line


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"server_name": "bad host;"}, "server_name"),
        ({"server_name": HOST, "cert_path": "relative.crt"}, "cert_path"),
        ({"server_name": HOST, "upstream": "127.0.0.1:7990; evil"}, "upstream"),
    ],
)
def test_values_reaching_nginx_are_validated(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        NginxSiteSpec(**kwargs)


READY_S = 30.0  # how long nginx may take to answer on a loaded machine


class NginxDidNotStart(Exception):
    pass


def start_nginx(prefix: Path, https_port: int, http_port: int, ca_file: str) -> subprocess.Popen:
    """nginx, running until it answers: over HTTPS with the site's certificate (so it is this nginx,
    not whatever else listens there) and on its plain-HTTP port. Raises NginxDidNotStart (with what
    nginx said) when it exits first or does not answer within READY_S."""
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + READY_S
    while True:
        if process.poll() is not None:
            said = process.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
            log = prefix / "logs/error.log"
            raise NginxDidNotStart(said + (log.read_text() if log.exists() else ""))
        try:
            requests.get(f"https://127.0.0.1:{https_port}/status", verify=ca_file, timeout=1)
            requests.get(f"http://127.0.0.1:{http_port}/", allow_redirects=False, timeout=1)
            return process
        except requests.RequestException:
            if time.monotonic() > deadline:
                stop_nginx(process)
                raise NginxDidNotStart(
                    f"no answer within {READY_S:.0f}s: " + (prefix / "logs/error.log").read_text()
                ) from None
            time.sleep(0.05)


def stop_nginx(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    if process.stderr is not None:
        process.stderr.close()


@pytest.fixture
def live(tmp_path):
    """nginx on loopback, terminating TLS in front of the emulator's mirror (plain HTTP, like 7990),
    on ports the kernel chose, once it answers."""
    with Emulator() as emu:
        mirror = emu.add_mirror("syd", plain_http=True)
        ca = trustme.CA()
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        upstream = mirror.http_url.removeprefix("http://")
        process, failures = None, []
        for _ in range(5):
            https_port, http_port = free_ports(2)
            prefix, _ = prefix_with_site(
                tmp_path, {"https_port": https_port, "http_port": http_port, "upstream": upstream}, ca
            )
            try:
                process = start_nginx(prefix, https_port, http_port, str(ca_file))
                break
            except NginxDidNotStart as exc:
                failures.append(str(exc))
                if "Address already in use" not in str(exc):
                    break  # not a port taken in between: starting again would not help
        if process is None:
            pytest.fail("nginx did not start: " + " | ".join(failures))
        try:
            yield emu, https_port, http_port, str(ca_file)
        finally:
            stop_nginx(process)


def test_https_through_nginx_reaches_the_mirror_with_forwarded_headers(live):
    emu, https_port, _, ca_file = live
    emu.clear_log()
    response = requests.get(f"https://127.0.0.1:{https_port}/status", verify=ca_file, timeout=10)
    assert response.status_code == 200 and response.json() == {"state": "RUNNING"}
    (seen,) = [r for r in emu.log if r.path == "/status"]
    headers = {k.lower(): v for k, v in seen.headers.items()}
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-port"] == str(https_port)
    assert headers["host"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"


def test_plain_http_is_redirected_to_https(live):
    _, https_port, http_port, _ = live
    response = requests.get(f"http://127.0.0.1:{http_port}/projects/PLAT", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://127.0.0.1:{https_port}/projects/PLAT"


def test_large_bodies_pass_unlimited(live):
    emu, https_port, _, ca_file = live
    body = b"[" + b'"1",' * (5 * 1024 * 1024 // 4) + b'"1"]'
    response = requests.post(
        f"https://127.0.0.1:{https_port}/rest/mirroring/latest/syncSettings/projects",
        data=body,
        headers={"Content-Type": "application/json"},
        verify=ca_file,
        timeout=30,
    )
    assert response.status_code != 413
    assert any(r.path == "/rest/mirroring/latest/syncSettings/projects" and r.method == "POST" for r in emu.log)


def _handshake(port: int, ca_file: str, version: ssl.TLSVersion) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ca_file)
    context.minimum_version = version
    context.maximum_version = version
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_only_modern_tls_is_offered(live):
    _, https_port, _, ca_file = live
    assert _handshake(https_port, ca_file, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"  # the control
    with pytest.raises(ssl.SSLError) as refused:
        _handshake(https_port, ca_file, ssl.TLSVersion.TLSv1_1)
    # nginx's alert, not the client library declining to offer TLS 1.1 at all.
    assert "PROTOCOL_VERSION" in str(refused.value).upper().replace(" ", "_"), str(refused.value)
