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
from tests.emulator import Emulator

HOST = "mirror-syd.example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    prefix, _ = prefix_with_site(tmp_path, {"https_port": free_port(), "http_port": free_port()}, trustme.CA())
    result = subprocess.run([nginx_binary(), "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_production_site_has_the_documented_settings():
    site = render_nginx_site(NginxSiteSpec(HOST))
    for line in ("listen 443 ssl http2;", "listen 80;", "return 301 https://$host$request_uri;",
                 "ssl_protocols TLSv1.2 TLSv1.3;", "client_max_body_size 0;", "proxy_pass http://127.0.0.1:7990;",
                 "proxy_buffering off;", "proxy_request_buffering off;", "proxy_read_timeout 3600s;",
                 "proxy_set_header X-Forwarded-Proto https;", "ssl_certificate /etc/bitbucket-mirror/tls/tls.crt;"):
        assert line in site, line


@pytest.mark.parametrize("kwargs, field", [({"server_name": "bad host;"}, "server_name"),
                                           ({"server_name": HOST, "cert_path": "relative.crt"}, "cert_path"),
                                           ({"server_name": HOST, "upstream": "127.0.0.1:7990; evil"}, "upstream")])
def test_values_reaching_nginx_are_validated(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        NginxSiteSpec(**kwargs)


@pytest.fixture
def live(tmp_path):
    """nginx on loopback, terminating TLS in front of the emulator's mirror (plain HTTP, like 7990)."""
    with Emulator() as emu:
        mirror = emu.add_mirror("syd", plain_http=True)
        ca = trustme.CA()
        https_port, http_port = free_port(), free_port()
        upstream = mirror.http_url.removeprefix("http://")
        prefix, _ = prefix_with_site(tmp_path, {"https_port": https_port, "http_port": http_port,
                                                "upstream": upstream}, ca)
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        process = subprocess.Popen([nginx_binary(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                                    "-g", "daemon off;"], stderr=subprocess.PIPE)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", https_port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                pytest.fail("nginx did not start: " + (prefix / "logs/error.log").read_text())
            yield emu, https_port, http_port, str(ca_file)
        finally:
            process.terminate()
            process.wait(timeout=10)


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
    response = requests.post(f"https://127.0.0.1:{https_port}/rest/mirroring/latest/syncSettings/projects",
                             data=body, headers={"Content-Type": "application/json"}, verify=ca_file, timeout=30)
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
    assert _handshake(https_port, ca_file, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"   # the control
    with pytest.raises(ssl.SSLError) as refused:
        _handshake(https_port, ca_file, ssl.TLSVersion.TLSv1_1)
    # nginx's alert, not the client library declining to offer TLS 1.1 at all.
    assert "PROTOCOL_VERSION" in str(refused.value).upper().replace(" ", "_"), str(refused.value)
