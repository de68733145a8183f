"""Security- and availability-relevant decisions of the components, each pinned so that flipping it
fails a test: who the load balancer faces, how nodes are reached, how the home volume detaches,
how the installer trusts the node, what the node's role may do."""

from __future__ import annotations

import json

import parliament
import pytest

from tests.harness import STACKS, ProgramRun, run_program, stack_file_config, unwrap_secret
from tests.resource_types import (
    ATTACHMENT,
    COMMAND,
    GET_AMI,
    INSTANCE,
    NLB,
    PARAMETER,
    PRIVATE_KEY,
    RANDOM_PASSWORD,
    RECORD,
    ROLE,
    ROLE_POLICY,
    TARGET_GROUP,
)


def run_with(stack: str, **changes) -> ProgramRun:
    """The stack file with top-level objects of its config changed (key: dict of field -> value)."""
    config, secret_keys = stack_file_config(STACKS / f"{stack}.yaml")
    for key, fields in changes.items():
        full = f"bitbucket-mirrors:{key}"
        value = json.loads(config.get(full, "{}"))
        value.update(fields)
        config[full] = json.dumps(value)
    return run_program(config=config, secret_keys=secret_keys)


@pytest.mark.parametrize("stack", ["single-acm", "single-nginx", "farm-3", "two-sites"])
def test_the_home_volume_detaches_only_once_bitbucket_stopped_and_the_home_is_unmounted(stack):
    # Detaching a mounted volume under a running Bitbucket would corrupt repositories mid-write; and
    # an instance stopped to detach stays stopped (terraform-provider-aws never starts it again).
    # So each attachment has a command that reads its id: the engine replaces it before the
    # attachment (delete-before-replace), and its delete stops Bitbucket and unmounts the home.
    run = run_program(STACKS / f"{stack}.yaml")
    attachments = run.of_type(ATTACHMENT)
    assert attachments and all(a.inputs["stopInstanceBeforeDetaching"] is False for a in attachments)
    for attachment in attachments:
        assert attachment.options.get("deleteBeforeReplace") is True
        (release,) = [c for c in run.of_type(COMMAND) if attachment.urn in c.property_dependencies.get("triggers", [])]
        stop, unmount = (
            release.inputs["delete"].index("systemctl stop atlbitbucket"),
            release.inputs["delete"].index("umount"),
        )
        assert stop < unmount and "/var/atlassian/application-data/bitbucket" in release.inputs["delete"][unmount:]
        assert release.inputs["triggers"] == [attachment.id]


@pytest.mark.parametrize("stack", ["single-acm", "single-nginx", "farm-3", "two-sites"])
def test_the_installer_pins_each_nodes_own_host_key(stack):
    run = run_program(STACKS / f"{stack}.yaml")
    keys = {
        r.name.removesuffix("-host-key"): r.outputs["publicKeyOpenssh"]
        for r in run.of_type(PRIVATE_KEY)
        if r.name.endswith("-host-key")
    }
    commands = run.of_type(COMMAND)
    assert commands
    for command in commands:
        connection = unwrap_secret(command.inputs["connection"])
        node = "-".join(command.name.split("-")[:2])  # syd-node0-stage -> syd-node0
        assert connection["hostKey"] == keys[node], command.name
        proxy = connection.get("proxy")
        if proxy is not None:
            assert proxy["hostKey"].startswith("ssh-ed25519 "), "the bastion's key is pinned too"


def test_the_node_role_reads_only_its_own_host_key():
    run = run_program(STACKS / "farm-3.yaml")
    parameters = {p.name: p for p in run.of_type(PARAMETER)}
    for policy in run.of_type(ROLE_POLICY):
        if not policy.name.endswith("-read-host-key"):
            continue
        node = policy.name.removesuffix("-read-host-key")
        document = json.loads(policy.inputs["policy"])
        assert document["Statement"] == [
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": parameters[f"{node}-host-key"].outputs["arn"]}
        ]


def test_instances_keep_their_ami_and_read_the_host_key_only_after_it_exists():
    run = run_program(STACKS / "single-acm.yaml")
    (instance,) = run.of_type(INSTANCE)
    # A new AMI release must not replace a mirror; a new type or user data is made inside the node's
    # drain (InstanceModification), so pulumi-aws never stops the instance before the preflights.
    assert instance.options["ignoreChanges"] == ["ami", "instanceType", "userData"]
    parameter = run.one(PARAMETER)
    policy = run.one(ROLE_POLICY, "fra-node0-read-host-key")
    assert run.depends_on(instance, parameter) and run.depends_on(instance, policy)


def test_draining_gives_git_operations_five_minutes_and_health_is_bitbuckets_status():
    run = run_program(STACKS / "farm-3.yaml")
    for group in run.of_type(TARGET_GROUP):
        assert group.inputs["deregistrationDelay"] == 300
        check = group.inputs["healthCheck"]
        assert (check["path"], check["matcher"], check["port"]) == ("/status", "200", "7990")


def test_a_returning_node_serves_after_20_s_of_checks_and_leaves_only_after_30_s_of_failures():
    # Each node of a rollout waits for healthy: interval x healthy threshold is paid once per node.
    # Within AWS's ranges for NLB target groups (interval 5-300 s, thresholds 2-10 each, unequal
    # allowed), and more than one missed check before a serving node is taken out.
    for group in run_program(STACKS / "farm-3.yaml").of_type(TARGET_GROUP):
        check = group.inputs["healthCheck"]
        assert check["interval"] * check["healthyThreshold"] == 20
        assert check["interval"] * check["unhealthyThreshold"] == 30
        assert 5 <= check["interval"] <= 300 and check["unhealthyThreshold"] > 2
        assert all(2 <= check[k] <= 10 for k in ("healthyThreshold", "unhealthyThreshold"))


def test_the_load_balancer_spreads_clients_over_the_nodes_of_every_zone():
    # Without cross-zone balancing a zone with one node takes half the clients of a 3-node farm.
    (lb,) = run_program(STACKS / "farm-3.yaml").of_type(NLB)
    assert lb.inputs["enableCrossZoneLoadBalancing"] is True and lb.inputs["loadBalancerType"] == "network"


def test_the_staged_bundle_is_private_and_carries_no_timestamp():
    import base64
    import gzip
    import io
    import tarfile

    run = run_program(STACKS / "single-nginx.yaml")
    stage = run.one(COMMAND, "syd-node0-stage")
    # Key material lands in the staging directory: only root may enter it.
    assert "sudo install -d -m 0700 /opt/bitbucket-mirror/staging" in stage.inputs["create"]
    # Files are root's on the node, whatever owner the bundle names (a uid of the machine that ran up).
    assert stage.inputs["create"].endswith("sudo tar -xzf - -C /opt/bitbucket-mirror/staging --no-same-owner")
    raw = base64.b64decode(unwrap_secret(stage.inputs["stdin"]))
    assert raw[4:8] == b"\0\0\0\0"  # gzip mtime: equal files give an equal bundle, no re-run
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw)), mode="r:") as tar:
        assert all(m.mtime == 0 and m.mode == 0o600 for m in tar.getmembers())


def test_policies_are_documents_iam_accepts_and_the_role_is_for_ec2_only():
    run = run_program(STACKS / "single-acm.yaml")
    role = run.one(ROLE)
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}],
    }
    for policy in run.of_type(ROLE_POLICY):
        assert json.loads(policy.inputs["policy"])["Version"] == "2012-10-17"


def test_the_farm_secret_is_32_random_characters_and_a_nodes_dns_record_lives_a_minute():
    run = run_program(STACKS / "farm-3.yaml")
    password = run.one(RANDOM_PASSWORD)
    assert (password.inputs["length"], password.inputs["special"]) == (32, False)
    nginx = run_program(STACKS / "single-nginx.yaml")
    # A node's address changes with every stop and start: clients must not keep the old one for long.
    assert nginx.one(RECORD, "syd-dns").inputs["ttl"] == 60


def test_images_come_from_their_publishers_and_are_the_newest():
    # Trusting another owner would boot a stranger's image with the node's role.
    run = run_program(STACKS / "two-sites.yaml")
    lookups = [c.args for c in run.calls if c.token == GET_AMI]
    owners = {
        next(f["values"][0] for f in args["filters"] if f["name"] == "name").split("/")[0].split("-")[0]: args["owners"]
        for args in lookups
    }
    assert owners == {"al2023": ["amazon"], "ubuntu": ["099720109477"]}  # Amazon; Canonical's account
    assert all(args["mostRecent"] is True for args in lookups)
    for args in lookups:
        assert {"name": "state", "values": ["available"]} in args["filters"]


def test_every_node_can_be_reached_by_session_manager_without_reading_any_other_parameter():
    from components.host import SESSION_MANAGER_POLICY

    run = run_program(STACKS / "farm-3.yaml")
    policies = {p.name: p for p in run.of_type(ROLE_POLICY)}
    roles = {r.name: r for r in run.of_type(ROLE)}
    for i in range(3):
        policy = policies[f"iad-node{i}-session-manager"]
        assert (
            policy.inputs["role"] == roles[f"iad-node{i}-role"].id and policy.inputs["policy"] == SESSION_MANAGER_POLICY
        )
    actions = {a for s in json.loads(SESSION_MANAGER_POLICY)["Statement"] for a in s["Action"]}
    assert actions == {
        "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    }
    # The only statement that reads a parameter is each node's own host key.
    readers = [p for p in policies.values() if "ssm:GetParameter" in p.inputs["policy"]]
    assert sorted(p.name for p in readers) == [f"iad-node{i}-read-host-key" for i in range(3)]
    assert parliament.analyze_policy_string(SESSION_MANAGER_POLICY).findings == []
    instances = {i.name: i.id for i in run.of_type(INSTANCE)}
    assert run.outputs["iadNodeSessions"] == [
        f"aws ssm start-session --target {instances[f'iad-node{i}-instance']} --region us-east-1" for i in range(3)
    ]
    assert run.outputs["mirrors"]["iad"]["nodeSessions"] == run.outputs["iadNodeSessions"]


def _bundle(run: ProgramRun, command: str) -> dict[str, str]:
    import base64
    import io
    import tarfile

    stdin = unwrap_secret(next(r for r in run.resources if r.name == command).wire_inputs["stdin"])
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(stdin)), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}


def test_every_node_of_a_site_gets_the_same_ssh_host_key_kept_across_rebuilds_and_scaling():
    def farm(**changes) -> ProgramRun:
        config, secret_keys = stack_file_config(STACKS / "farm-3.yaml")
        mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
        mirrors[0].update(changes)
        config["bitbucket-mirrors:mirrors"] = json.dumps(mirrors)
        return run_program(config=config, secret_keys=secret_keys)

    run = run_program(STACKS / "farm-3.yaml")
    key = run.one(PRIVATE_KEY, "iad-ssh-server-key")
    assert (key.inputs["algorithm"], key.inputs["rsaBits"]) == ("RSA", 3072)
    pem = key.outputs["privateKeyPem"]
    keys = {_bundle(run, f"iad-node{i}-stage")["ssh-server-keys.pem"] for i in range(3)}
    assert keys == {pem.strip() + "\n"}
    for changed in (farm(displayName="Virginia"), farm(nodes=4)):
        again = changed.one(PRIVATE_KEY, "iad-ssh-server-key")
        assert again.urn == key.urn and again.inputs == key.inputs  # the same key resource: the same key
        nodes = len(changed.of_type(INSTANCE))
        assert {_bundle(changed, f"iad-node{i}-stage")["ssh-server-keys.pem"] for i in range(nodes)} == keys
    public = key.outputs["publicKeyOpenssh"].strip()
    assert run.outputs["iadSshKnownHosts"] == f"[mirror-iad.example.com]:7999 {public}"
    assert run.outputs["mirrors"]["iad"]["sshHostKey"] == public
    # The private half only ever inside a secret (the staged bundle is one).
    from tests.harness import find_plaintext

    assert [p for r in run.resources for p in find_plaintext(r.wire_inputs, pem.splitlines()[1])] == []
