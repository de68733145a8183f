"""Issue #30 items 2 and 3 against loopback servers: one deadline bounds a call's whole exchange
(name lookup, connect, every byte of the headers and the body), every answer is capped in size once
decompressed, every value echoed in an error is cut, and a read follows a redirect only within its
origin (a write never)."""

from __future__ import annotations

import gzip
import json
import socket
import time

import pytest

from providers.client import MAX_ANSWER_BYTES, BitbucketClient
from providers.clock import Deadline
from providers.errors import AnswerTooLarge, PreflightError, RedirectRefused, Unreachable
from providers.mirror_approval import ApprovalTimeout

from .conftest import PASSWORD
from .hostile import Hostile, answer, redirect
from .loopback import Loopback, at_once, http_answer, trickle

SLACK_S = 1.5
PROPERTIES = "/rest/api/latest/application-properties"


def ends_within(call, seconds: float) -> Exception:
    start = time.monotonic()
    with pytest.raises(Exception) as caught:
        call()
    took = time.monotonic() - start
    assert took < seconds + SLACK_S, f"took {took:.1f}s for a {seconds}s deadline: {caught.value}"
    return caught.value


# --- item 2: one deadline for the whole exchange ----------------------------------------------
@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_server_trickling_a_byte_at_a_time_is_given_up_at_the_calls_deadline(where):
    body = json.dumps({"version": "9.4.16", "padding": "x" * 400}).encode()
    whole = http_answer(body)
    split = len(whole) - len(body)  # headers first, at once, when the body trickles
    with Loopback(lambda conn: None) as server:
        server.serve = (
            trickle(whole, 0.2)
            if where == "headers"
            else lambda conn: (conn.sendall(whole[:split]), trickle(whole[split:], 0.2)(conn))
        )
        # A read timeout of 60 s per socket read never trips: a byte comes every 0.2 s.
        client = BitbucketClient(server.url, "admin", PASSWORD, ca_bundle=server.ca_pem, retries=0)
        error = ends_within(lambda: client.get(PROPERTIES, deadline=Deadline(2)), 2)
    assert isinstance(error, Unreachable)
    assert f"GET {server.url}{PROPERTIES} failed: timed out" in str(error) and "2.0s the call had" in str(error)


def test_a_slow_name_lookup_counts_against_the_deadline(monkeypatch):
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):
        if host == "slow-dns.example.com":
            time.sleep(6)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    client = BitbucketClient("https://slow-dns.example.com", "admin", PASSWORD, retries=0)
    error = ends_within(lambda: client.get(PROPERTIES, deadline=Deadline(1)), 1)
    assert isinstance(error, Unreachable) and "name lookup of slow-dns.example.com" in str(error)


def test_an_approval_whose_mirror_name_resolves_slowly_ends_by_its_timeout(emu, approval, monkeypatch):
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: (time.sleep(6) if host == "mirror-slow.example.com" else None) or real(host, *a, **k),
    )
    props = {"primary_url": emu.primary_url, "base_url": "https://mirror-slow.example.com", "timeout_s": 3}
    error = ends_within(lambda: approval.create({**props, "ca_bundle": emu.ca_pem}), 3)
    assert isinstance(error, ApprovalTimeout) and "could not say its server ID" in str(error)


# --- item 2: a cap on every answer, decompressed; values echoed cut ---------------------------
def test_a_gzip_bomb_is_refused_at_the_cap_naming_the_url_and_the_cap():
    inflated = b'{"version": "' + b" " * (MAX_ANSWER_BYTES * 4) + b'"}'  # 64 MiB from about 64 KiB
    bomb = gzip.compress(inflated, compresslevel=9)
    assert len(bomb) < 200 * 1024
    with Loopback(at_once(http_answer(bomb, Content_Encoding="gzip"))) as server:
        client = BitbucketClient(server.url, "admin", PASSWORD, ca_bundle=server.ca_pem, retries=0)
        with pytest.raises(AnswerTooLarge) as caught:
            client.get(PROPERTIES, deadline=Deadline(20))
    text = str(caught.value)
    assert text.startswith(f"GET {server.url}{PROPERTIES} answered 200 with more than {MAX_ANSWER_BYTES} bytes")
    assert "the cap of 16 MiB on every answer" in text and len(text) < 600


def test_an_answer_just_under_the_cap_is_read():
    body = json.dumps({"version": "9.4.16", "padding": "x" * (MAX_ANSWER_BYTES - 100)}).encode()
    with Loopback(at_once(http_answer(gzip.compress(body), Content_Encoding="gzip"))) as server:
        client = BitbucketClient(server.url, "admin", PASSWORD, ca_bundle=server.ca_pem, retries=0)
        assert client.get(PROPERTIES, deadline=Deadline(20))["version"] == "9.4.16"


def test_a_huge_value_is_cut_where_an_error_echoes_it(emu, setup_provider):
    huge = "x" * 1_000_000
    with Hostile(lambda seen: answer({"version": huge}) if seen.path == PROPERTIES else None) as primary:
        with pytest.raises(PreflightError) as caught:
            setup_provider.create(
                {
                    "primary_url": primary.url,
                    "display_name": "Sydney",
                    "base_url": "https://mirror-syd.example.com",
                    "ca_bundle": primary.ca_pem,
                }
            )
    text = str(caught.value)
    assert len(text) < 400 and "(cut from 1000000 characters)" in text


# --- item 3: redirects within the origin for reads, none for writes ---------------------------
@pytest.mark.parametrize("elsewhere", ["another host", "another port"])
def test_a_read_redirected_to_another_https_origin_is_refused(elsewhere):
    with Hostile(lambda seen: answer({"enabled": True, "port": 2222})) as other:
        with Hostile(lambda seen: None) as primary:
            target = (
                primary.url.replace("127.0.0.1", "localhost") if elsewhere == "another host" else other.url
            ) + "/rest/ssh/latest/settings"
            primary.script = lambda seen: redirect(target)
            ca = primary.ca_pem + "\n" + other.ca_pem
            client = BitbucketClient(primary.url, "admin", PASSWORD, ca_bundle=ca, retries=0)
            with pytest.raises(RedirectRefused) as caught:
                client.get("/rest/ssh/latest/settings", deadline=Deadline(5))
            assert len(primary.seen) == 1, "the redirect's target was never asked"
        assert other.seen == []
    assert "another origin (scheme, host and port)" in str(caught.value) and target in str(caught.value)


def test_a_read_redirected_within_its_origin_is_followed():
    with Hostile(lambda seen: None) as primary:
        primary.script = lambda seen: (
            answer({"version": "9.4.16"}) if seen.path == "/moved" else redirect(f"{primary.url}/moved")
        )
        client = BitbucketClient(primary.url, "admin", PASSWORD, ca_bundle=primary.ca_pem, retries=0)
        assert client.get(PROPERTIES, deadline=Deadline(5)) == {"version": "9.4.16"}
        assert [s.path for s in primary.seen] == [PROPERTIES, "/moved"]


def test_a_huge_status_from_a_mirror_is_cut_where_the_rollout_echoes_it():
    from providers import mirror_api
    from providers.errors import RolloutError

    with Hostile(lambda seen: answer({"state": "STARTING" + "x" * 1_000_000})) as mirror:
        client = BitbucketClient(mirror.url, "admin", PASSWORD, ca_bundle=mirror.ca_pem, retries=0)
        with pytest.raises(RolloutError) as caught:
            mirror_api.wait_running(client, "syd-node0", timeout_s=0.3, poll_s=0.1)
    text = str(caught.value)
    assert len(text) < 500 and "(last: 'STARTINGxxx" in text and "(cut from 1000008 characters)" in text
