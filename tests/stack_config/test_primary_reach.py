"""What the primary needs to reach its mirrors, and its URL (issue #31 item 7): a primary shut out of a
site's 443 is refused at preview, naming primary.cidrs, and warned of by the offline check, which
cannot resolve; a primary URL ending in the clone prefix /scm is warned of in both."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stack_config import ConfigError, primary_reach
from stack_config.check import check_stack_file

from .test_stack_config import BASE, load, with_

CLIENTS = with_("network", {"clientCidrs": ["10.0.0.0/8"]})


@pytest.fixture
def resolved(monkeypatch):
    """The primary's host resolves to what a test says (no DNS); records what was asked."""
    answers: dict[str, list[str]] = {}
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        if host not in answers:
            raise OSError(-2, "Name or service not known")
        return answers[host]

    monkeypatch.setattr(primary_reach, "resolve", resolve)
    monkeypatch.setattr("stack_config.loader.resolve", resolve)
    return answers, asked


def test_a_primary_outside_every_client_cidr_without_primary_cidrs_is_refused_at_preview(resolved):
    answers, _ = resolved
    answers["bitbucket.example.com"] = ["203.0.113.10"]
    with pytest.raises(ConfigError) as caught:
        load(CLIENTS)
    message = str(caught.value)
    assert message.startswith("the stack config has 1 problem;"), message
    assert "bitbucket-mirrors:primary.cidrs: is not set" in message
    assert "203.0.113.10" in message and "mirrors[0] (syd): 10.0.0.0/8" in message
    assert "could not reach those mirrors on 443" in message and "set primary.cidrs" in message


def test_a_primary_inside_a_client_cidr_needs_no_primary_cidrs(resolved):
    answers, _ = resolved
    answers["bitbucket.example.com"] = ["10.20.30.40"]
    warnings: list[str] = []
    assert load(CLIENTS, warnings=warnings).primary.cidrs == ()
    assert warnings == []


def test_every_address_of_the_primary_must_be_outside_for_a_refusal(resolved):
    answers, _ = resolved
    answers["bitbucket.example.com"] = ["203.0.113.10", "10.20.30.40"]
    load(CLIENTS)


def test_only_the_sites_that_shut_the_primary_out_are_named(resolved):
    answers, _ = resolved
    answers["bitbucket.example.com"] = ["10.20.30.40"]
    fra = {**BASE["mirrors"][0], "name": "fra", "baseUrl": "https://mirror-fra.example.com"}
    fra["network"] = {"clientCidrs": ["192.168.0.0/16"]}
    with pytest.raises(ConfigError) as caught:
        load(with_("mirrors", [BASE["mirrors"][0], fra], base=CLIENTS))
    message = str(caught.value)
    assert "mirrors[1] (fra): 192.168.0.0/16" in message and "mirrors[0] (syd)" not in message


def test_primary_cidrs_set_is_never_second_guessed(resolved):
    answers, asked = resolved
    answers["bitbucket.example.com"] = ["203.0.113.10"]
    load(with_("primary.cidrs", ["198.51.100.0/24"], base=CLIENTS))
    assert asked == []


def test_a_site_on_its_vpc_default_is_not_judged(resolved):
    _, asked = resolved
    load(BASE)
    assert asked == []


def test_a_primary_that_does_not_resolve_here_is_a_warning_not_a_refusal(resolved):
    warnings: list[str] = []
    load(CLIENTS, warnings=warnings)
    assert any("primary.cidrs is not set and bitbucket.example.com did not resolve" in w for w in warnings), warnings


# --- offline -------------------------------------------------------------------------------------


def stack_file(tmp_path: Path, raw: dict) -> Path:
    config = {f"bitbucket-mirrors:{k}": v for k, v in raw.items()}
    config["aws:region"] = "ap-southeast-2"
    config["bitbucket-mirrors:primaryPassword"] = "pw-not-secret-here"
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def offline(tmp_path: Path, raw: dict) -> tuple[list[str], list[str]]:
    problems, warnings = check_stack_file(stack_file(tmp_path, raw))
    return [str(p) for p in problems if p.path != "primaryPassword"], warnings


def test_the_offline_check_cannot_resolve_and_warns(tmp_path, resolved):
    _, asked = resolved
    problems, warnings = offline(tmp_path, CLIENTS)
    assert problems == [] and asked == []
    assert any(
        w.startswith("primary.cidrs is not set: the primary reaches mirrors[0] (syd) on 443 only if") for w in warnings
    ), warnings
    assert any("preview resolves bitbucket.example.com and refuses otherwise" in w for w in warnings)


def test_the_offline_check_refuses_a_primary_named_by_an_address_outside(tmp_path):
    problems, _ = offline(tmp_path, with_("primary.url", "https://203.0.113.10", base=CLIENTS))
    assert len(problems) == 1 and problems[0].startswith("primary.cidrs: is not set, and the primary (203.0.113.10")


def test_the_offline_check_says_nothing_when_primary_cidrs_is_set(tmp_path):
    _, warnings = offline(tmp_path, with_("primary.cidrs", ["203.0.113.10/32"], base=CLIENTS))
    assert not any("primary.cidrs" in w for w in warnings)


# --- the clone prefix ----------------------------------------------------------------------------

SCM = "ends in /scm, the prefix of the primary's clone URLs, not its base URL"


@pytest.mark.parametrize(
    "url, base",
    [
        ("https://bitbucket.example.com/scm", "https://bitbucket.example.com"),
        ("https://bitbucket.example.com/scm/", "https://bitbucket.example.com"),
        ("https://git.example.com/bitbucket/scm", "https://git.example.com/bitbucket"),
    ],
)
def test_a_primary_url_ending_in_scm_is_warned_of_at_preview_and_offline(tmp_path, url, base):
    warnings: list[str] = []
    load(with_("primary.url", url), warnings=warnings)
    assert [w for w in warnings if SCM in w] == [
        f"primary.url: '{url}' ends in /scm, the prefix of the primary's clone URLs, not its base URL; the mirror "
        f"calls the REST API under the base URL: write {base} (the URL of the primary's web pages)"
    ]
    _, offline_warnings = offline(tmp_path, with_("primary.url", url))
    assert any(SCM in w for w in offline_warnings)


@pytest.mark.parametrize(
    "url", ["https://bitbucket.example.com", "https://git.example.com/scmtools", "https://scm.example.com"]
)
def test_a_base_url_without_the_clone_prefix_is_not_warned_of(url):
    warnings: list[str] = []
    load(with_("primary.url", url), warnings=warnings)
    assert not [w for w in warnings if SCM in w]
