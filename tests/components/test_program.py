"""The whole program under Pulumi's mocks, on several real stack files: the resource graph a user
would get from `pulumi up` (README "What you get"), and where their secrets travel."""

from __future__ import annotations

import json

import pytest

from tests.certificates import self_signed
from tests.harness import (
    EXAMPLE_FILES,
    EXAMPLE_STACK,
    STACKS,
    TEST_PASSWORD,
    ProgramRun,
    RecordedResource,
    find_plaintext,
    run_program,
    unwrap_secret,
)
from tests.resource_types import (
    APPROVAL,
    ATTACHMENT,
    CERT,
    CERT_VALIDATION,
    COMMAND,
    GENERATION,
    GET_AMI,
    GET_SUBNETS,
    GET_VPC,
    INGRESS,
    INSTANCE,
    LISTENER,
    NLB,
    NODE_RETURN,
    PARAMETER,
    PROJECTS,
    RECORD,
    ROLE,
    ROLE_POLICY,
    SETUP,
    SITE,
    TARGET_GROUP,
    TG_ATTACHMENT,
    VOLUME,
)

from .conftest import SECRETS, TLS_KEY
from .graph import rules, site_resources

# --- counts and hosts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stack, site, nodes",
    [
        ("single-nginx", "syd", 1),
        ("single-acm", "fra", 1),
        ("farm-3", "iad", 3),
        ("two-sites", "syd", 1),
        ("two-sites", "mel", 1),
        ("example", "syd", 1),
        ("fleet", "syd", 1),
        ("fleet", "fra", 3),
        ("fleet", "pdx", 1),
        ("farm", "fra", 3),
    ],
)
def test_each_site_gets_its_nodes_with_their_own_home(runs, stack, site, nodes):
    run = runs[stack]
    assert len(site_resources(run, site, INSTANCE)) == nodes
    assert len(site_resources(run, site, VOLUME)) == nodes
    assert len(site_resources(run, site, ATTACHMENT)) == nodes
    homes = {v.id for v in site_resources(run, site, VOLUME)}
    attached = {a.inputs["volumeId"] for a in site_resources(run, site, ATTACHMENT)}
    assert homes == attached, "every home volume is attached to one node"
    assert len(site_resources(run, site, SETUP)) == 1
    assert len(site_resources(run, site, APPROVAL)) == 1, "one approval per site, farm or not"
    assert len(site_resources(run, site, PROJECTS)) == 1


@pytest.mark.parametrize("stack", ["single-nginx", "single-acm", "farm-3", "two-sites", "example", "farm", "fleet"])
def test_hosts_require_imdsv2_and_encrypt_every_disk(runs, stack):
    run = runs[stack]
    for instance in run.of_type(INSTANCE):
        options = instance.inputs["metadataOptions"]
        assert options["httpTokens"] == "required" and options["httpPutResponseHopLimit"] == 1
        assert instance.inputs["rootBlockDevice"]["encrypted"] is True
        # A new boot configuration restarts each node in turn (stop, modify, start), never replaces it.
        assert instance.inputs["userDataReplaceOnChange"] is False
    for volume in run.of_type(VOLUME):
        assert volume.inputs["encrypted"] is True and volume.inputs["type"] == "gp3"


def test_home_volume_size_and_instance_type_follow_config(runs):
    run = runs["fleet"]
    assert {v.inputs["size"] for v in site_resources(run, "syd", VOLUME)} == {200}
    assert {v.inputs["size"] for v in site_resources(run, "fra", VOLUME)} == {100}
    assert {i.inputs["instanceType"] for i in site_resources(run, "fra", INSTANCE)} == {"m6i.2xlarge"}


def test_ami_lookup_matches_os_and_architecture(runs):
    lookups = [c.args for c in runs["two-sites"].calls if c.token == GET_AMI]
    names = sorted(f["values"][0] for args in lookups for f in args["filters"] if f["name"] == "name")
    assert names == ["al2023-ami-2023.*-x86_64", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*"]


def test_user_data_pins_host_key_without_carrying_it(runs):
    run = runs["single-nginx"]
    instance = run.one(INSTANCE)
    user_data = instance.inputs["userData"]
    assert user_data.startswith("#cloud-config")
    assert "ssm get-parameter" in user_data and "PRIVATE KEY" not in user_data
    parameter = run.one(PARAMETER)
    assert parameter.inputs["type"] == "SecureString"
    assert parameter.inputs["name"] in user_data
    policy = json.loads(run.one(ROLE_POLICY, "syd-node0-read-host-key").inputs["policy"])
    assert [s["Action"] for s in policy["Statement"]] == ["ssm:GetParameter"]


# --- security groups ---------------------------------------------------------------------------

# --- load balancer, TLS, DNS -------------------------------------------------------------------


@pytest.mark.parametrize("stack, site, nodes", [("single-acm", "fra", 1), ("farm-3", "iad", 3)])
def test_load_balancer_listeners_and_health_checks(runs, stack, site, nodes):
    run = runs[stack]
    nlb = run.one(NLB, f"{site}-nlb")
    assert nlb.inputs["loadBalancerType"] == "network"
    listeners = {listener.inputs["port"]: listener for listener in site_resources(run, site, LISTENER)}
    assert set(listeners) == {443, 7999}
    https, ssh = listeners[443], listeners[7999]
    assert https.inputs["protocol"] == "TLS" and https.inputs["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert ssh.inputs["protocol"] == "TCP" and "certificateArn" not in ssh.inputs
    groups = {g.name: g for g in site_resources(run, site, TARGET_GROUP)}
    target_port = {port: _group_for(run, listener).inputs["port"] for port, listener in listeners.items()}
    assert target_port == {443: 7990, 7999: 7999}
    for group in groups.values():
        check = group.inputs["healthCheck"]
        assert (check["path"], check["port"], check["protocol"]) == ("/status", "7990", "HTTP")
    assert len(site_resources(run, site, TG_ATTACHMENT)) == 2 * nodes
    assert rules(run, INGRESS, f"{site}-lb") and all(port != 5701 for port, _ in rules(run, INGRESS, f"{site}-lb"))


def _group_for(run: ProgramRun, listener: RecordedResource) -> RecordedResource:
    arn = listener.inputs["defaultActions"][0]["targetGroupArn"]
    return next(g for g in run.of_type(TARGET_GROUP) if g.outputs.get("arn") == arn)


def test_acm_certificate_is_validated_through_route53_before_the_listener_uses_it(runs):
    run = runs["single-acm"]
    certificate = run.one(CERT)
    assert certificate.inputs["domainName"] == "mirror-fra.example.com"
    assert certificate.inputs["validationMethod"] == "DNS"
    records = {r.name: r for r in run.of_type(RECORD)}
    validation_record = records["fra-tls-cert-validation"]
    assert validation_record.inputs["zoneId"] == "Z0123456789ABCDEFGHIJ"
    assert validation_record.inputs["type"] == "CNAME"
    validation = run.one(CERT_VALIDATION)
    https = next(listener for listener in run.of_type(LISTENER) if listener.inputs["port"] == 443)
    assert run.depends_on(https, validation), "the TLS listener waits for the validated certificate"
    assert run.depends_on(validation, validation_record)


def test_existing_certificate_arn_requests_nothing(runs):
    run = runs["two-sites"]
    assert [c.inputs["domainName"] for c in run.of_type(CERT)] == ["mirror-mel.example.com"]
    https = next(listener for listener in site_resources(run, "syd", LISTENER) if listener.inputs["port"] == 443)
    assert https.inputs["certificateArn"].endswith("11111111-2222-3333-4444-555555555555")


def test_dns_alias_to_load_balancer_and_a_record_to_nginx_node(runs):
    acm = runs["single-acm"].one(RECORD, "fra-dns")
    assert acm.inputs["name"] == "mirror-fra.example.com" and acm.inputs["type"] == "A"
    assert acm.inputs["aliases"][0]["name"] == "fra-nlb.elb.eu-central-1.amazonaws.com"  # the stack region
    nginx_run = runs["single-nginx"]
    nginx = nginx_run.one(RECORD, "syd-dns")
    node = nginx_run.one(INSTANCE)
    assert nginx.inputs["records"] == [node.outputs["publicIp"]]


# --- the provider chain ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stack, site", [("single-nginx", "syd"), ("farm-3", "iad"), ("fleet", "fra"), ("farm", "fra"), ("example", "syd")]
)
def test_setup_install_approval_projects_run_in_order(runs, stack, site):
    run = runs[stack]
    setup = run.one(SETUP, f"{site}-setup")
    approval = run.one(APPROVAL, f"{site}-approval")
    projects = run.one(PROJECTS, f"{site}-projects")
    nodes = len(site_resources(run, site, INSTANCE))
    for i in range(nodes):
        stage, install = run.one(COMMAND, f"{site}-node{i}-stage"), run.one(COMMAND, f"{site}-node{i}-install")
        assert run.depends_on(stage, setup), "the setup keys are rendered before files are staged"
        assert run.depends_on(install, stage)
    # The mirror registers on its first node's first start: approved once that node is back,
    # while a farm's other nodes join after it (a new farm serves as soon as its first node does).
    back = run.one(NODE_RETURN, f"{site}-node0-return")
    assert run.depends_on(approval, back) and run.depends_on(approval, run.one(COMMAND, f"{site}-node0-install"))
    if nodes > 1:
        assert not run.depends_on(approval, run.one(COMMAND, f"{site}-node1-install"))
    assert run.depends_on(projects, approval)
    assert projects.inputs["mirror_id"] == approval.outputs["mirror_id"]


@pytest.mark.parametrize("stack, site", [("single-nginx", "syd"), ("single-acm", "fra")])
def test_approval_waits_for_the_base_url_to_resolve(runs, stack, site):
    run = runs[stack]
    assert run.depends_on(run.one(APPROVAL, f"{site}-approval"), run.one(RECORD, f"{site}-dns"))


def test_farm_nodes_join_after_the_first(runs):
    run = runs["farm-3"]
    installs = {c.name: c for c in run.of_type(COMMAND) if c.name.endswith("-install")}
    first = installs["iad-node0-install"]
    for name in ("iad-node1-install", "iad-node2-install"):
        assert run.depends_on(installs[name], first)
    assert not run.depends_on(first, installs["iad-node1-install"])


def test_provider_inputs_follow_config(runs):
    run = runs["single-acm"]
    setup = run.one(SETUP)
    assert setup.inputs["primary_url"] == "https://bitbucket.example.com/bitbucket"
    assert setup.inputs["display_name"] == "Frankfurt" and setup.inputs["base_url"] == "https://mirror-fra.example.com"
    assert setup.inputs["ca_bundle"].strip() == _stack_value("single-acm", "primary")["caBundle"].strip()
    projects = run.one(PROJECTS)
    assert projects.inputs["project_keys"] == ["PLAT"] and projects.inputs["mirror_all"] is False
    farm = runs["farm-3"]
    assert farm.one(PROJECTS).inputs["mirror_all"] is True
    assert farm.one(APPROVAL).inputs["expected_type"] == "FARM"
    assert run.one(APPROVAL).inputs["expected_type"] == "FARM"  # a farm of one
    assert runs["single-nginx"].one(APPROVAL).inputs["expected_type"] == "SINGLE"


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["single-nginx", "single-acm", "farm-3", "two-sites", "example", "farm", "fleet"])
def test_no_secret_travels_outside_a_secret(runs, stack):
    run = runs[stack]
    needles = [TEST_PASSWORD, "nginx-key-material", "bastion-key-material", "mock-random-"]
    # Generated keys: whatever the mocks returned for private keys must stay wrapped too.
    needles += ["OPENSSH PRIVATE KEY-----\nmock"]
    leaks = []
    for resource in run.resources:
        for needle in needles:
            leaks += [f"{resource.typ} {resource.name}{path}" for path in find_plaintext(resource.wire_inputs, needle)]
    assert leaks == []


def test_secrets_do_reach_the_resources_that_need_them(runs):
    """The leak test above would pass vacuously if keys never arrived; make sure they do, wrapped."""
    run = runs["single-nginx"]
    stage = run.one(COMMAND, "syd-node0-stage")
    assert "stdin" in stage.wire_inputs
    assert json.dumps(stage.wire_inputs["stdin"]).count("1b47061264138c4ac30d75fd1eb44270") == 1
    bastion_run = runs["two-sites"]
    stage = bastion_run.one(COMMAND, "syd-node0-stage")
    assert "bastion-key-material" in json.dumps(stage.wire_inputs["connection"])


def test_primary_password_is_never_a_resource_input(runs):
    for run in runs.values():
        for resource in run.resources:
            assert TEST_PASSWORD not in json.dumps(resource.wire_inputs)


# --- outputs -----------------------------------------------------------------------------------


def test_outputs_per_mirror_and_the_mirrors_map(runs):
    run = runs["fleet"]
    out = run.outputs
    assert out["sydUrl"] == "https://mirror-syd.example.com"
    assert out["sydSshUrl"] == "ssh://git@mirror-syd.example.com:7999"
    assert out["fraSshUrl"] == "ssh://git@mirror-fra.example.com:7999"
    assert out["fraMirrorId"] == "mirror-fra-approval"
    assert len(out["fraNodeAddresses"]) == 3
    assert out["mirrors"]["syd"] == {
        "url": out["sydUrl"],
        "sshUrl": out["sydSshUrl"],
        "sshHostKey": out["mirrors"]["syd"]["sshHostKey"],
        "sshKnownHosts": out["sydSshKnownHosts"],
        "mirrorId": out["sydMirrorId"],
        "nodeAddresses": out["sydNodeAddresses"],
        "nodeSessions": out["sydNodeSessions"],
        "region": out["sydRegion"],
    }
    assert not run.secret_outputs


def test_every_child_has_a_component_parent(runs):
    run = runs["fleet"]
    sites = {s.urn for s in run.of_type(SITE)}
    assert len(sites) == 3  # syd, fra, pdx
    for resource in run.resources:
        if resource.typ == SITE:
            continue
        assert resource.parent, f"{resource.name} has no parent"
        assert not resource.parent.endswith("::bitbucket-mirrors-test"), f"{resource.name} sits at the stack root"


@pytest.mark.parametrize("stack", ["example", "fleet"])
def test_preview_with_unknown_values_registers_the_same_graph(runs, stack):
    preview = run_program(EXAMPLE_FILES.get(stack, EXAMPLE_STACK), SECRETS, preview=True)
    assert sorted((r.typ, r.name) for r in preview.resources) == sorted((r.typ, r.name) for r in runs[stack].resources)


# --- what each node receives -------------------------------------------------------------------


def staged_files(run: ProgramRun, command: str) -> dict[str, str]:
    import base64
    import io
    import tarfile

    stdin = unwrap_secret(run.one(COMMAND, command).inputs["stdin"])
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(stdin)), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}


def test_farm_nodes_receive_clustering_properties_and_their_own_home(runs):
    run = runs["farm-3"]
    volumes = {v.name: v.id for v in run.of_type(VOLUME)}
    roles = {r.name: r.outputs["name"] for r in run.of_type(ROLE)}
    for i in range(3):
        files = staged_files(run, f"iad-node{i}-stage")
        assert set(files) == {
            "bitbucket.properties",
            "atlbitbucket.service",
            "install.sh",
            "mirror-generation",
            "ssh-server-keys.pem",
        }
        generation = run.one(GENERATION).outputs["generation"]
        assert files["mirror-generation"] == f"{generation}\n"
        properties = files["bitbucket.properties"]
        # Discovery by the farm's tag with the node's own role: no node's file names another node.
        assert "hazelcast.network.aws=true" in properties
        assert f"hazelcast.network.aws.iam.role={roles[f'iad-node{i}-role']}" in properties
        assert "hazelcast.network.aws.tag.value=test-iad" in properties
        assert "10.2" not in properties
        assert "hazelcast.group.password=mock-random-" in properties
        assert "setup.baseUrl=https://mirror-iad.example.com" in properties
        assert f"HOME_VOLUME_ID={volumes[f'iad-node{i}-home']}" in files["install.sh"]


def test_nginx_node_receives_site_certificate_and_key(runs):
    files = staged_files(runs["single-nginx"], "syd-node0-stage")
    assert files["tls.key"] == TLS_KEY
    assert files["tls.crt"].strip() == _stack_value("single-nginx", "mirrors")[0]["tls"]["certificate"].strip()
    assert "server_name mirror-syd.example.com;" in files["nginx-site.conf"]
    assert "TLS_MODE=nginx" in files["install.sh"]
    assert "ca-bundle.pem" not in files


def test_acm_node_receives_ca_bundle_and_internal_installer(runs):
    files = staged_files(runs["single-acm"], "fra-node0-stage")
    assert files["ca-bundle.pem"].strip() == _stack_value("single-acm", "primary")["caBundle"].strip()
    script = files["install.sh"]
    assert "INSTALLER_URL=https://artifacts.internal.example.com/atlassian-bitbucket-9.4.16.tar.gz" in script
    assert "INSTALLER_SHA256=0123456789abcdef" in script and "HAS_CA_BUNDLE=1" in script
    assert "setup.displayName=Frankfurt" in files["bitbucket.properties"]
    assert "plugin.mirroring.upstream.url=https://bitbucket.example.com/bitbucket" in files["bitbucket.properties"]


def test_install_reruns_only_when_the_files_change(runs):
    first = run_program(STACKS / "single-acm.yaml", SECRETS)
    again = run_program(STACKS / "single-acm.yaml", SECRETS)

    def triggers(run):
        return run.one(COMMAND, "fra-node0-install").inputs["triggers"]

    assert triggers(first) == triggers(again), "the same config stages byte-identical files"
    assert (
        first.one(COMMAND, "fra-node0-stage").inputs["stdin"] == again.one(COMMAND, "fra-node0-stage").inputs["stdin"]
    )


def _stack_value(stack: str, key: str):
    import yaml

    return yaml.safe_load((STACKS / f"{stack}.yaml").read_text())["config"][f"bitbucket-mirrors:{key}"]


def _variant(tmp_path, edit) -> ProgramRun:
    import yaml

    document = yaml.safe_load((STACKS / "single-nginx.yaml").read_text())
    edit(document["config"]["bitbucket-mirrors:mirrors"][0])
    path = tmp_path / "Pulumi.variant.yaml"
    path.write_text(yaml.safe_dump(document))
    return run_program(path, SECRETS)


def test_install_reruns_when_version_or_certificate_change(runs, tmp_path):
    def trigger(run):
        return unwrap_secret(run.one(COMMAND, "syd-node0-install").inputs["triggers"])

    before = trigger(runs["single-nginx"])
    upgraded = _variant(tmp_path, lambda m: m.update(bitbucketVersion="9.4.17"))
    renewed = _variant(
        tmp_path,
        lambda m: m["tls"].update(
            certificate=self_signed("mirror-syd.example.com", "mirror-syd.example.com", serial=2)
        ),
    )
    assert trigger(upgraded) != before and trigger(renewed) != before
    assert "VERSION=9.4.17" in staged_files(upgraded, "syd-node0-stage")["install.sh"]


def test_default_vpc_and_its_subnets_when_none_configured(runs):
    lookups = {c.token: c.args for c in runs["single-acm"].calls}
    assert lookups[GET_VPC] == {"default": True, "region": "eu-central-1"}
    assert lookups[GET_SUBNETS]["filters"][0]["values"] == ["vpc-0default000000001"]
    configured = {c.token for c in runs["farm-3"].calls}
    assert GET_SUBNETS not in configured
