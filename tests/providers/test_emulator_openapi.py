"""The emulator answers as the vendor's OpenAPI document (9.2) says Bitbucket does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from twin.emulator import Faults

from .conftest import PASSWORD, approved_mirror

# The part of the vendor's document the project uses, kept in the repository (tests/spec/PROVENANCE.md).
SPEC = Path(__file__).resolve().parents[1] / "spec" / "bitbucket-dc-9.2-subset.json"


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    spec = json.loads(SPEC.read_text())
    # The document's server is http://{baseurl}/rest; the emulator serves https on 127.0.0.1 ports.
    spec["servers"] = [{"url": "https://127.0.0.1:{port}/rest", "variables": {"port": {"default": "443"}}}]
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def test_every_emulated_endpoint_answers_per_the_document(emu, openapi):
    for key in ("PLAT", "OPS", "DOCS"):
        emu.add_project(key)
    pending = emu.add_mirror("mel", base_url="https://mirror-mel.example.com")
    mirror = approved_mirror(emu)
    quiet = emu.add_mirror("quiet")
    quiet.reports_server_id = False
    silent = quiet.url + "/rest"
    session = requests.Session()
    session.auth = ("admin", PASSWORD)
    primary, at_mirror = emu.primary_url + "/rest", mirror.url + "/rest"
    emu.state.tick()
    calls = [
        ("GET", f"{primary}/api/latest/application-properties", None),
        ("GET", f"{primary}/ssh/latest/settings", None),
        ("GET", f"{primary}/api/latest/admin/license", None),
        ("GET", f"{primary}/api/latest/projects?limit=2", None),
        ("GET", f"{primary}/api/latest/projects/PLAT", None),
        ("GET", f"{primary}/api/latest/projects/NOPE", None),
        ("GET", f"{primary}/mirroring/latest/requests?state=PENDING", None),
        ("GET", f"{primary}/mirroring/latest/requests/{pending.request_id}", None),
        ("GET", f"{primary}/mirroring/latest/requests/999", None),
        ("POST", f"{primary}/mirroring/latest/requests/999/accept", None),
        ("GET", f"{primary}/mirroring/latest/mirrorServers", None),
        ("GET", f"{primary}/mirroring/latest/mirrorServers/{mirror.mirror_id}", None),
        ("GET", f"{at_mirror}/mirroring/latest/upstreamServer", None),
        ("GET", f"{at_mirror}/api/latest/admin/license", None),  # the mirror's own Server ID
        ("GET", f"{at_mirror}/api/latest/application-properties", None),
        ("GET", f"{silent}/api/latest/admin/license", None),  # one that reports none: 404
        ("PUT", f"{at_mirror}/mirroring/latest/syncSettings/mode", "SELECTED_PROJECTS"),
        ("POST", f"{at_mirror}/mirroring/latest/syncSettings/projects", ["1", "2"]),
        ("POST", f"{at_mirror}/mirroring/latest/syncSettings/projects/3", None),
        ("GET", f"{at_mirror}/mirroring/latest/syncSettings/projects", None),
        ("DELETE", f"{at_mirror}/mirroring/latest/syncSettings/projects/3", None),
        ("GET", f"{at_mirror}/mirroring/latest/syncSettings", None),
        ("PUT", f"{at_mirror}/mirroring/latest/syncSettings", {"mode": "SELECTED_PROJECTS", "projectIds": ["1"]}),
        ("GET", f"{at_mirror}/mirroring/latest/syncSettings/mode", None),
        ("GET", f"{at_mirror}/mirroring/latest/progress", None),
        ("GET", f"{at_mirror}/mirroring/latest/farmNodes", None),
        ("POST", f"{at_mirror}/mirroring/latest/zdu/start", None),
        ("POST", f"{at_mirror}/mirroring/latest/zdu/end", None),
        ("POST", f"{primary}/mirroring/latest/requests/{pending.request_id}/accept", None),
        ("DELETE", f"{primary}/mirroring/latest/mirrorServers/{mirror.mirror_id}", None),
        ("GET", f"{at_mirror}/mirroring/latest/syncSettings", None),  # upstream gone: 404
    ]
    for method, url, body in calls:
        response = session.request(method, url, json=body, verify=emu.ca_file)
        assert response.status_code < 500, (method, url, response.text)
        openapi.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))


def test_paged_answers_follow_the_document_across_pages(emu, openapi):
    emu.add_projects(7)
    session = requests.Session()
    session.auth = ("admin", PASSWORD)
    response = session.get(
        f"{emu.primary_url}/rest/api/latest/projects", params={"start": 3, "limit": 2}, verify=emu.ca_file
    )
    openapi.validate_response(RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response))
    body = response.json()
    assert (body["start"], body["size"], body["isLastPage"], body["nextPageStart"]) == (3, 2, False, 5)
    last = session.get(f"{emu.primary_url}/rest/api/latest/projects", params={"start": 6}, verify=emu.ca_file).json()
    assert last["isLastPage"] is True and "nextPageStart" not in last


def test_faults_are_what_was_asked_for(emu):
    emu.set_faults(Faults(rate=1.0, kinds=("429",), retry_after_s=7))
    response = requests.get(f"{emu.primary_url}/rest/api/latest/application-properties", verify=emu.ca_file)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json()["errors"][0]["message"] == "injected fault"
    emu.set_faults(Faults(rate=1.0, kinds=("drop",)))
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{emu.primary_url}/rest/api/latest/application-properties", verify=emu.ca_file)


def test_latency_is_applied(emu):
    import time

    emu.latency_s = 0.2
    start = time.monotonic()
    requests.get(f"{emu.primary_url}/rest/api/latest/application-properties", verify=emu.ca_file)
    assert time.monotonic() - start >= 0.2
