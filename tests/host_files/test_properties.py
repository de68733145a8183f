"""bitbucket.properties, parsed back key by key as Bitbucket would read it."""

from __future__ import annotations

import pytest

from components.host_files import FarmSpec, PropertiesSpec, render_bitbucket_properties
from providers.setup_properties import render_setup_block
from twin.javaprops import parse

PRIMARY = "https://bitbucket.example.com/context"
BASE = "https://mirror-syd.example.com"


def render(display_name="Sydney", farm=None, base_url=BASE):
    return parse(
        render_bitbucket_properties(
            PropertiesSpec(
                setup_block=render_setup_block(display_name, base_url, PRIMARY), base_url=base_url, farm=farm
            )
        )
    )


def test_single_mirror_properties():
    props = render()
    assert props == {
        "application.mode": "mirror",
        "setup.displayName": "Sydney",
        "setup.baseUrl": BASE,
        "plugin.mirroring.upstream.url": PRIMARY,
        "plugin.mirroring.upstream.type": "server",
        "server.port": "7990",
        "server.proxy-name": "mirror-syd.example.com",
        "server.proxy-port": "443",
        "server.scheme": "https",
        "server.secure": "true",
    }


FARM = dict(
    region="eu-central-1", iam_role="fra-node1-role-1a2b3c4", tag_key="bitbucket-mirrors:farm", tag_value="prod-fra"
)


def test_farm_properties_cluster_the_nodes_by_aws_discovery():
    farm = FarmSpec("bitbucket-mirror-fra", "s3cret-group-password-123", **FARM)
    props = render(farm=farm)
    # The keys Atlassian's AWS deployment scripts write; no node's file names another node.
    assert props["hazelcast.network.aws"] == "true"
    assert props["hazelcast.network.aws.iam.role"] == "fra-node1-role-1a2b3c4"
    assert props["hazelcast.network.aws.region"] == "eu-central-1"
    assert props["hazelcast.network.aws.tag.key"] == "bitbucket-mirrors:farm"
    assert props["hazelcast.network.aws.tag.value"] == "prod-fra"
    assert not any(key.startswith("hazelcast.network.tcpip") for key in props)
    assert props["hazelcast.network.multicast"] == "false"
    assert props["hazelcast.port"] == "5701"
    assert props["hazelcast.group.name"] == "bitbucket-mirror-fra"
    assert props["hazelcast.group.password"] == "s3cret-group-password-123"
    assert props["application.mode"] == "mirror"


@pytest.mark.parametrize(
    "name", ["Sydney – mirror", "Zürich\\backslash", " leading space", "emoji 😀 mirror", "a=b:c#d!e"]
)
def test_odd_display_names_round_trip(name):
    assert render(display_name=name)["setup.displayName"] == name


def test_line_breaks_in_values_are_refused():
    with pytest.raises(ValueError, match="line breaks"):
        render_setup_block("two\nlines", BASE, PRIMARY)


@pytest.mark.parametrize(
    "spec, field",
    [
        (lambda: PropertiesSpec("nothing", BASE), "setup_block"),
        (lambda: PropertiesSpec(render_setup_block("x", BASE, PRIMARY), "http://m.example.com"), "base_url"),
        (lambda: FarmSpec("g", "short", **FARM), "group_password"),
        (lambda: FarmSpec("g", "p" * 20, **{**FARM, "iam_role": ""}), "iam_role"),
        (lambda: FarmSpec("g", "p" * 20, **{**FARM, "region": "europe"}), "region"),
        (lambda: FarmSpec("g", "p" * 20, **{**FARM, "tag_value": "prod fra"}), "tag_value"),
        (lambda: PropertiesSpec(render_setup_block("x", BASE, PRIMARY), BASE, extra={"setup.baseUrl": "x"}), "extra"),
    ],
)
def test_bad_specs_name_the_field(spec, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        spec()
