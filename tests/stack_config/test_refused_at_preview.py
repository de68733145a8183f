"""Values that would fail later (in a provider, a renderer, or on a host) stop the real program at
preview, naming the key, before a single resource is registered."""

from __future__ import annotations

import json

import pytest

from stack_config import ConfigError
from tests.harness import EXAMPLE_FILES, run_program, stack_file_config

# The fleet example's first mirror is an nginx site; the second a farm behind a load balancer.
CASES = [
    ("primary", lambda c: c.update(url="https://user:hunter2@bitbucket.example.com"), "primary.url"),
    ("mirrors", lambda c: c[0].update(baseUrl="https://someone@mirror-syd.example.com"), "mirrors[0].baseUrl"),
    ("mirrors", lambda c: c[1].update(displayName="Frankfurt\nfarm"), "mirrors[1].displayName"),
    ("mirrors", lambda c: c[0].update(baseUrl="https://mirror-syd.example.com."), "mirrors[0].baseUrl"),
]


@pytest.mark.parametrize("key, change, path", CASES, ids=[c[2] for c in CASES])
def test_refused_before_any_resource_is_registered(registered, key, change, path):
    config, secret_keys = stack_file_config(EXAMPLE_FILES["fleet"])
    full_key = f"bitbucket-mirrors:{key}"
    value = json.loads(config[full_key])
    change(value)
    config[full_key] = json.dumps(value)
    with pytest.raises(ConfigError) as caught:
        run_program(config=config, secret_keys=secret_keys)
    assert f"bitbucket-mirrors:{path}:" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert registered == []
