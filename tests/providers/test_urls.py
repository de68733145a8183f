"""URL checks: every bad URL is refused with a reason a user can act on, never an empty one, and
the reason never repeats a credential the URL carried."""

from __future__ import annotations

import pytest

from providers.mirror_approval import MirrorApprovalProvider
from providers.mirror_setup import MirrorSetupProvider
from providers.mirrored_projects import MirroredProjectsProvider
from providers.urls import https_problem, redact

GOOD = "https://primary.example.com"
BAD = {
    None: "expected an https:// URL",
    "": "expected an https:// URL",
    42: "expected an https:// URL",
    "http://primary.example.com": "refuses plain HTTP",
    "ftp://primary.example.com": "expected an https:// URL",
    "primary.example.com": "expected an https:// URL",
    "https://": "no valid host name",
    "https://bad_host.example.com": "no valid host name",
    "https://-dash.example.com": "no valid host name",
    "https://primary.example.com:99999": "not a valid URL",
    "https://admin:s3cret-pw@primary.example.com": "carries credentials",
    "https://primary.example.com/?token=s3cret-pw": "query or fragment",
}


@pytest.mark.parametrize("url", list(BAD), ids=repr)
def test_every_bad_url_is_refused_with_a_reason(url):
    reason = https_problem(url)
    assert reason and BAD[url] in reason
    assert "s3cret-pw" not in reason


@pytest.mark.parametrize("url", [GOOD, "https://10.0.0.5:8443/bitbucket", "https://Mirror-Syd.Example.com/"])
def test_good_urls_pass(url):
    assert https_problem(url) is None


@pytest.mark.parametrize(
    "provider, keys, others",
    [
        (MirrorSetupProvider, ("primary_url", "base_url"), {"display_name": "Sydney"}),
        (MirrorApprovalProvider, ("primary_url", "base_url"), {"timeout_s": 60}),
        (MirroredProjectsProvider, ("primary_url", "mirror_url"), {"project_keys": [], "mirror_all": False}),
    ],
)
@pytest.mark.parametrize("url", list(BAD), ids=repr)
def test_every_check_that_takes_a_url_refuses_it_with_that_reason(provider, keys, others, url):
    for key in keys:
        news = {**{k: GOOD for k in keys}, **others, key: url}
        failures = provider().check({}, news).failures
        assert [(f.property, f.reason) for f in failures] == [(key, https_problem(url))]
        assert failures[0].reason


def test_redact_keeps_where_and_drops_secrets():
    assert redact("https://admin:pw@host.example.com:8443/path?token=x#frag") == "https://host.example.com:8443/path"


@pytest.mark.parametrize("url", [u for u in BAD if isinstance(u, str) and u], ids=repr)
def test_the_client_refuses_what_every_check_refuses_with_the_same_reason(url):
    # One URL rule: the client's backstop (for a caller that skipped the check) is the check itself.
    from providers.client import BitbucketClient

    with pytest.raises(ValueError) as caught:
        BitbucketClient(url, "admin", "pw")
    assert str(caught.value) == f"refusing to talk to Bitbucket: {https_problem(url)}"
    assert "s3cret-pw" not in str(caught.value)


def test_the_client_takes_a_url_every_check_takes():
    from providers.client import BitbucketClient

    assert BitbucketClient("https://10.0.0.5:8443/bitbucket/", "admin", "pw").base_url == (
        "https://10.0.0.5:8443/bitbucket"
    )
