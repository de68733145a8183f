"""BitbucketClient: TLS trust, retries, paging and errors, over real HTTPS against the emulator."""

from __future__ import annotations

import time

import pytest

from providers.client import BitbucketClient
from providers.errors import AuthenticationError, NotFound, PermissionDenied, ServerUnavailable, Unreachable
from twin.emulator import Faults

from .conftest import PASSWORD


def client(emu, url=None, password=PASSWORD, username="admin", ca=True, **kw):
    return BitbucketClient(
        url or emu.primary_url, username, password, ca_bundle=emu.ca_pem if ca else None, backoff_s=0.01, **kw
    )


def test_paging_follows_next_page_start_over_several_pages(emu):
    keys = emu.add_projects(55)
    seen = [p["key"] for p in client(emu).iter_paged("/rest/api/latest/projects", limit=20)]
    assert seen == keys
    pages = [r for r in emu.log if r.path == "/rest/api/latest/projects"]
    assert [r.query["start"] for r in pages] == ["0", "20", "40"]


def test_untrusted_certificate_fails_with_a_clear_message(emu):
    with pytest.raises(Unreachable) as caught:
        client(emu, ca=False).get("/rest/api/latest/application-properties")
    assert "TLS verification failed" in str(caught.value) and "caBundle" in str(caught.value)


def test_ca_bundle_is_trusted_even_when_the_environment_names_another(emu, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert client(emu).get("/rest/api/latest/application-properties")["version"] == "9.4.16"


def test_retry_after_is_honoured_for_idempotent_calls(emu):
    emu.set_faults(Faults(rate=1.0, kinds=("429",), retry_after_s=1))
    c = client(emu, retries=1)
    start = time.monotonic()
    with pytest.raises(ServerUnavailable) as caught:
        c.get("/rest/api/latest/application-properties")
    assert time.monotonic() - start >= 1.0, "the client waited Retry-After before retrying"
    assert caught.value.status == 429
    assert len(emu.log) == 2


def test_transient_failures_of_gets_are_retried(emu):
    emu.set_faults(Faults(rate=0.5, kinds=("503", "502", "drop"), seed=3))
    for _ in range(10):
        assert client(emu).get("/rest/api/latest/application-properties")["version"]


def test_posts_are_never_replayed_by_the_client(emu):
    emu.add_mirror("syd")
    emu.state.tick()
    emu.set_faults(Faults(rate=1.0, kinds=("503",)))
    with pytest.raises(ServerUnavailable):
        client(emu).post("/rest/mirroring/latest/requests/1/accept")
    assert [r.method for r in emu.log] == ["POST"]


@pytest.mark.parametrize("case", ["wrong-password", "not-admin", "no-route", "refused", "untrusted"])
def test_errors_name_method_url_status_and_hint_but_never_the_password(emu, case):
    emu.add_user("dev", "dev-" + PASSWORD, sys_admin=False)
    calls = {
        "wrong-password": (
            lambda: client(emu, password=PASSWORD + "x").get("/rest/mirroring/latest/requests"),
            AuthenticationError,
            "primaryPassword",
        ),
        "not-admin": (
            lambda: client(emu, username="dev", password="dev-" + PASSWORD).get("/rest/mirroring/latest/requests"),
            PermissionDenied,
            "SYS_ADMIN",
        ),
        "no-route": (lambda: client(emu).get("/rest/mirroring/latest/nothing"), NotFound, "not Bitbucket Data Center"),
        "refused": (
            lambda: client(emu, url="https://127.0.0.1:9").get("/rest/api/latest/projects"),
            Unreachable,
            "reach it",
        ),
        "untrusted": (lambda: client(emu, ca=False).get("/rest/api/latest/projects"), Unreachable, "caBundle"),
    }
    call, kind, hint = calls[case]
    with pytest.raises(kind) as caught:
        call()
    text = str(caught.value)
    assert "GET https://127.0.0.1:" in text and hint in text
    assert PASSWORD not in text and PASSWORD not in repr(caught.value)
    assert caught.value.__cause__ is None
