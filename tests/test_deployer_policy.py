"""The IAM permissions of the person who runs `pulumi up`/`preview`/`refresh`/`destroy`:
docs/deployer-policy.json and docs/deployer-policy-2.json (two managed policies: one would be over
IAM's 6,144 characters), linted with parliament and held against every AWS call the program makes.

- the real program runs under mocks over every stack file and variants (monitoring, a bastion,
  restoreFrom and osImage, nginx, three regions); every resource type and invoke it registers must be
  in tests/aws_calls.py's tables, which say what terraform-provider-aws calls for it, and every such
  action must be allowed;
- the code's own boto3 calls are read from the source (ast) and must be allowed: a call added later
  without a policy change fails here;
- nothing is allowed that neither needs, `*` only for actions IAM gives no resource type, and the
  tags and names the statements are scoped by are the ones the program really writes.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from pathlib import Path

import parliament
import pytest
from parliament.statement import get_arn_format

from components import tags as tagging
from components.host import host_key_policy
from tests import aws_calls, iam_evaluation
from tests.aws_calls import DYNAMIC_PROVIDERS, INVOKES, NEEDS_NO_PERMISSION, NO_AWS_CALLS, RESOURCES
from tests.harness import STACKS, ProgramRun, run_program, stack_file_config
from tests.resource_types import (
    ALARM,
    DYNAMIC,
    GET_SNAPSHOT_IDS,
    GROUP,
    INSTANCE,
    INSTANCE_PROFILE,
    KEY_PAIR,
    NLB,
    PARAMETER,
    ROLE,
    ROLE_POLICY,
    TARGET_GROUP,
    TOPIC,
    VOLUME,
)

ROOT = Path(__file__).resolve().parents[1]
MANAGED_POLICY_MAX = 6144  # IAM quotas: a managed policy's characters, white space not counted
STACK_TAG = tagging.STACK


BOUNDARY_ARN = "arn:aws:iam::123456789012:policy/bitbucket-mirrors-node-boundary"
BOUNDED_RUN = "farm-3+restoreFrom+osImage+iamPermissionsBoundaryArn"


def _farm_restoring_on_a_new_image() -> ProgramRun:
    """farm-3 as the deployer policy requires it (with iamPermissionsBoundaryArn), restoring onto a new image."""
    config, secret_keys = stack_file_config(STACKS / "farm-3.yaml")
    mirrors = json.loads(config["bitbucket-mirrors:mirrors"])
    mirrors[0].update(bitbucketVersion="9.4.15", restoreFrom="9.4.15", osImage="refresh: 2026-12")
    config["bitbucket-mirrors:mirrors"] = json.dumps(mirrors)
    config["bitbucket-mirrors:iamPermissionsBoundaryArn"] = BOUNDARY_ARN
    return run_program(config=config, secret_keys=secret_keys)


@pytest.fixture(scope="module")
def runs() -> dict[str, ProgramRun]:
    found = {path.stem: run_program(path) for path in sorted(STACKS.glob("*.yaml"))}
    found[BOUNDED_RUN] = _farm_restoring_on_a_new_image()
    return found


@pytest.fixture(scope="module")
def registered(runs) -> dict[str, set[str]]:
    """Resource type and invoke token -> the runs that registered it."""
    tokens: dict[str, set[str]] = {}
    for name, run in runs.items():
        for token in {r.typ for r in run.resources if r.custom} | {c.token for c in run.calls}:
            tokens.setdefault(token, set()).add(name)
    return tokens


def policy_actions() -> set[str]:
    return {a for s in aws_calls.statements() for a in aws_calls.as_list(s["Action"])}


def statement(sid: str) -> dict:
    (found,) = [s for s in aws_calls.statements() if s.get("Sid") == sid]
    return found


# ---- the documents ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", aws_calls.POLICY_FILES, ids=lambda p: p.name)
def test_each_document_is_a_managed_policy_iam_accepts(path):
    text = path.read_text()
    doc = json.loads(text)
    assert doc["Version"] == "2012-10-17"
    assert len(re.sub(r"\s", "", text)) <= MANAGED_POLICY_MAX, f"{path.name} is over a managed policy's size"
    for s in aws_calls.statements([doc]):
        assert s["Effect"] == "Allow" and set(s) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, s
        assert re.fullmatch(r"[A-Za-z0-9]+", s["Sid"]), s["Sid"]


def test_sids_are_unique_across_the_documents():
    sids = [s["Sid"] for s in aws_calls.statements()]
    assert len(sids) == len(set(sids))


def test_every_action_is_a_real_action_of_its_service_and_is_named_exactly():
    for action in sorted(policy_actions()):
        assert "*" not in action and "?" not in action, f"{action}: every action is listed by name"
        service, name = action.split(":")
        expanded = parliament.expand_action(action)  # raises on an unknown service or action
        assert {"service": service, "action": name} in expanded, action


def _privilege(action: str) -> dict:
    """The action's entry in parliament's IAM definitions; for a prefix several services share
    (elasticloadbalancing: Classic, V2 and the merged definition) the last, newest one."""
    service, name = action.split(":")
    found = None
    for definition in parliament.iam_definition:
        if definition["prefix"] == service:
            for privilege in definition["privileges"]:
                if privilege["privilege"] == name:
                    found = {**privilege, "service_resources": definition["resources"]}
    assert found is not None, action
    return found


def uncovered_resource_types() -> list[str]:
    """Parliament's RESOURCE_MISMATCH check over all statements together: each resource type an
    action requires must be matched by a Resource of some statement that allows the action.

    Parliament checks one statement at a time, and these documents split an action's resources on
    purpose (RunInstances: the instance and its volumes only with the stack tag in the request, the
    security group and key pair only with it on the resource, images and subnets of the account
    without). For Elastic Load Balancing the reference lists the application and the network form of a
    balancer or listener each as required; an action takes one of the two, so either covers it."""
    missing = []
    for action in sorted(policy_actions()):
        privilege = _privilege(action)
        required = [r["resource_type"] for r in privilege["resource_types"] if r["resource_type"].endswith("*")]
        groups: dict[str, list[str]] = {}
        for resource_type in required:
            kind = resource_type.split("/")[0] if action.startswith("elasticloadbalancing:") else resource_type
            groups.setdefault(kind, []).append(resource_type)
        resources = [
            r
            for s in aws_calls.statements()
            if aws_calls.allowing(action, [{"Statement": [s]}])
            for r in aws_calls.as_list(s["Resource"])
        ]
        for alternatives in groups.values():
            if not any(
                r == "*" or parliament.is_arn_strictly_valid(t, get_arn_format(t, privilege["service_resources"]), r)
                for t in alternatives
                for r in resources
            ):
                missing.append(f"{action}: {' or '.join(alternatives)}")
    return missing


def test_parliament_finds_nothing_but_what_is_justified_here():
    unexplained = []
    for path in aws_calls.POLICY_FILES:
        for finding in parliament.analyze_policy_string(path.read_text()).findings:
            if finding.issue == "RESOURCE_MISMATCH":
                continue  # one statement at a time: uncovered_resource_types checks them together
            if (
                finding.issue == "UNKNOWN_CONDITION_FOR_ACTION"
                and "elasticloadbalancing:CreateAction for action elasticloadbalancing:AddTags" in finding.detail
            ):
                continue  # parliament reads the oldest of three definitions sharing the prefix (below)
            unexplained.append(f"{path.name}: {finding.issue} {finding.detail}")
    assert unexplained == []
    assert uncovered_resource_types() == []


def test_the_newest_elb_definition_knows_the_create_action_condition_parliament_misses():
    keys = {k for r in _privilege("elasticloadbalancing:AddTags")["resource_types"] for k in r["condition_keys"]}
    assert "elasticloadbalancing:CreateAction" in keys


def test_parliament_would_flag_an_unknown_action_and_an_unscoped_write():
    def issues(action: str) -> set[str]:
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
        return {f.issue for f in parliament.analyze_policy_string(json.dumps(doc)).findings}

    assert "UNKNOWN_ACTION" in issues("ec2:RunInstance")
    assert "RESOURCE_STAR" in issues("iam:PassRole")


def test_star_only_for_actions_iam_gives_no_resource_type():
    for s in aws_calls.statements():
        if "*" in aws_calls.as_list(s["Resource"]):
            for action in aws_calls.as_list(s["Action"]):
                types = [r["resource_type"] for r in _privilege(action)["resource_types"] if r["resource_type"]]
                assert types == [], f"{s['Sid']}: {action} takes {types}, not '*'"


# ---- the program's resource types and invokes ---------------------------------------------------


def test_the_runs_cover_monitoring_a_bastion_a_restore_and_a_new_image(runs, registered):
    assert ALARM in registered
    assert GET_SNAPSHOT_IDS in registered
    assert DYNAMIC + "RootVolumeReplacement" in registered
    assert any(r.inputs.get("snapshotId") for r in runs[BOUNDED_RUN].of_type(VOLUME))
    config, _ = stack_file_config(STACKS / "two-sites.yaml")
    assert "bastion" in json.loads(config["bitbucket-mirrors:network"])


def test_every_registered_type_and_invoke_is_in_the_table(registered):
    known = set(RESOURCES) | set(INVOKES) | set(NO_AWS_CALLS) | {DYNAMIC + kind for kind in DYNAMIC_PROVIDERS}
    unknown = {token: sorted(where) for token, where in registered.items() if token not in known}
    assert unknown == {}, (
        "look up what terraform-provider-aws (or the provider) calls for these and add "
        "them to tests/aws_calls.py, then allow the actions in docs/deployer-policy*.json"
    )


def test_every_table_entry_is_registered_by_some_run(registered):
    stale = [t for t in [*RESOURCES, *INVOKES, *NO_AWS_CALLS] if t not in registered]
    stale += [kind for kind in DYNAMIC_PROVIDERS if DYNAMIC + kind not in registered]
    assert stale == []


def test_every_action_terraform_provider_aws_needs_is_allowed():
    refused = {
        action: sorted(tokens)
        for action, tokens in aws_calls.table_actions().items()
        if action not in NEEDS_NO_PERMISSION and not aws_calls.allowing(action)
    }
    assert refused == {}


def test_the_actions_that_need_no_permission_are_not_in_the_documents():
    assert not [a for a in NEEDS_NO_PERMISSION if aws_calls.allowing(a)]


# ---- the code's own boto3 calls -----------------------------------------------------------------


@pytest.fixture(scope="module")
def code_calls() -> list[aws_calls.CodeCall]:
    return aws_calls.boto3_operations()


def test_the_scan_sees_the_calls_the_providers_are_known_to_make(code_calls):
    seen = {(c.action, c.where.split(":")[0]) for c in code_calls}
    for action, where in [
        ("elasticloadbalancing:RegisterTargets", "providers/targets.py"),
        ("elasticloadbalancing:DeregisterTargets", "providers/targets.py"),
        ("elasticloadbalancing:DescribeTargetHealth", "providers/targets.py"),
        ("ec2:DescribeInstances", "providers/targets.py"),  # through a paginator
        ("ec2:DescribeSnapshots", "providers/backup.py"),  # likewise
        ("ec2:CreateSnapshot", "providers/backup.py"),
        ("ec2:DeleteSnapshot", "providers/backup.py"),
        ("ec2:DescribeInstances", "providers/os_refresh.py"),
        ("ec2:CreateReplaceRootVolumeTask", "providers/os_refresh.py"),
        ("ec2:DescribeReplaceRootVolumeTasks", "providers/os_refresh.py"),
        ("sts:GetCallerIdentity", "stack_config/aws_identity.py"),
    ]:
        assert (action, where) in seen


def test_the_scan_follows_every_boto3_client_the_code_creates():
    services, unreadable = aws_calls.boto3_services(aws_calls.python_files())
    assert unreadable == []
    assert services <= set(aws_calls.IAM_PREFIXES), "a new service: add its IAM prefix to tests/aws_calls.py"
    prefixes = {definition["prefix"] for definition in parliament.iam_definition}
    assert set(aws_calls.IAM_PREFIXES.values()) <= prefixes


def test_the_scan_would_see_a_call_added_later(tmp_path):
    added = tmp_path / "added.py"
    added.write_text(
        "import boto3\n"
        "def go(region):\n"
        "    c = boto3.client('ec2', region_name=region)\n"
        "    c.get_waiter('snapshot_completed').wait(SnapshotIds=['snap-1'])\n"
        "    return c.modify_snapshot_attribute(SnapshotId='snap-1')\n"
    )
    calls = {c.action for c in aws_calls.boto3_operations([added])}
    assert calls == {"ec2:DescribeSnapshots", "ec2:ModifySnapshotAttribute"}
    assert not aws_calls.allowing("ec2:ModifySnapshotAttribute")  # so the test below would fail


def test_every_aws_call_of_the_code_is_allowed(code_calls):
    refused = sorted(
        {
            f"{c.action} ({c.where})"
            for c in code_calls
            if c.action not in NEEDS_NO_PERMISSION and not aws_calls.allowing(c.action)
        }
    )
    assert refused == []


def test_each_dynamic_provider_lives_in_a_scanned_module():
    scanned = {p.relative_to(ROOT).as_posix() for p in aws_calls.python_files()}
    for kind, module in DYNAMIC_PROVIDERS.items():
        assert module in scanned, module
        classes = {n.name for n in ast.walk(ast.parse((ROOT / module).read_text())) if isinstance(n, ast.ClassDef)}
        assert kind in classes, f"{kind} is not defined in {module}"


# ---- least privilege --------------------------------------------------------------------------


def test_every_allowed_action_is_needed_by_a_registered_type_or_the_code(code_calls):
    needed = set(aws_calls.table_actions()) | {c.action for c in code_calls}
    assert sorted(policy_actions() - needed) == []


def test_the_stack_tag_the_statements_require_is_on_every_resource_they_scope(runs):
    """The Null conditions name components/tags.py's stack key, and every resource created or
    changed under them carries it; otherwise the deployer would be refused at the first `up`."""
    scoped = [s for s in aws_calls.statements() if "Null" in s.get("Condition", {})]
    assert scoped and all(
        set(s["Condition"]["Null"]) <= {f"aws:RequestTag/{STACK_TAG}", f"aws:ResourceTag/{STACK_TAG}"}
        and set(s["Condition"]["Null"].values()) == {"false"}
        for s in scoped
    )
    tagged = [
        INSTANCE,
        VOLUME,
        GROUP,
        KEY_PAIR,
        NLB,
        TARGET_GROUP,
        ROLE,
        INSTANCE_PROFILE,
    ]
    for run in runs.values():
        for resource in run.resources:
            if resource.typ in tagged:
                assert STACK_TAG in (resource.inputs.get("tags") or {}), (resource.typ, resource.name)
            if resource.typ == INSTANCE:
                assert STACK_TAG in resource.inputs["volumeTags"], resource.name
            if resource.typ == DYNAMIC + "HomeBackup":  # CreateSnapshot's tags, DeleteSnapshot's scope
                assert all(STACK_TAG in home["tags"] for home in resource.inputs["homes"]), resource.name


def _autonamed(logical: str) -> str:
    return f"{logical}-0a1b2c3"  # what Pulumi makes of a logical name: a dash and 7 random characters


def _matches(resource: str, arn_patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(resource, p) for p in arn_patterns)


def test_the_names_the_statements_are_scoped_by_are_the_names_the_program_gives(runs):
    roles = aws_calls.as_list(statement("IamChangeOnlyStackTaggedNodeRolesAndProfiles")["Resource"])
    passed = aws_calls.as_list(statement("IamPassOnlyTheNodeRolesAndOnlyToEc2")["Resource"])
    listeners = aws_calls.as_list(statement("ElbListenersUntaggedSoOnlyThoseOfSiteBalancers")["Resource"])
    parameters = aws_calls.as_list(statement("SsmTheNodesHostKeyParameters")["Resource"])
    topics = aws_calls.as_list(statement("SnsTheAlarmTopicsThisProjectCreates")["Resource"])
    alarms = aws_calls.as_list(statement("CloudWatchTheAlarmsThisProjectNames")["Resource"])
    account, region = "123456789012", "eu-central-1"
    for run in runs.values():
        for r in run.resources:
            if r.typ == ROLE:
                arn = f"arn:aws:iam::{account}:role/{_autonamed(r.name)}"
                assert _matches(arn, roles) and _matches(arn, passed), arn
            elif r.typ == INSTANCE_PROFILE:
                arn = f"arn:aws:iam::{account}:instance-profile/{_autonamed(r.name)}"
                assert _matches(arn, roles), arn
            elif r.typ == NLB:
                arn = (
                    f"arn:aws:elasticloadbalancing:{region}:{account}:listener/net/"
                    f"{_autonamed(r.name)}/50dc6c495c0c9188/0467ef3c8400ae65"
                )
                assert _matches(arn, listeners), arn
            elif r.typ == PARAMETER:
                arn = f"arn:aws:ssm:{region}:{account}:parameter{r.inputs['name']}"
                assert _matches(arn, parameters), arn
            elif r.typ == TOPIC:
                arn = f"arn:aws:sns:{region}:{account}:{_autonamed(r.name)}"
                assert _matches(arn, topics), arn
            elif r.typ == ALARM:
                arn = f"arn:aws:cloudwatch:{region}:{account}:alarm:{r.inputs['name']}"
                assert _matches(arn, alarms), arn


def test_the_node_roles_pattern_would_not_pass_a_role_of_another_name():
    passed = aws_calls.as_list(statement("IamPassOnlyTheNodeRolesAndOnlyToEc2")["Resource"])
    for other in ("OrganizationAccountAccessRole", "admin", "ci-deployer-role", "syd-node0-profile-0a1b2c3"):
        assert not _matches(f"arn:aws:iam::123456789012:role/{other}", passed), other


# ---- no escalation: a stolen deployer cannot become the account's admin ------------------------
# Played with tests/iam_evaluation.py (IAM's documented evaluation of Allow statements and their
# conditions) against both documents together, as one principal holding them both would be.

ACCOUNT = "123456789012"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/syd-node0-role-0a1b2c3"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
BOUNDARY_FILE = ROOT / "docs" / "node-permissions-boundary.json"
KMS_KEY = f"arn:aws:kms:eu-central-1:{ACCOUNT}:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
STACK_TAGGED = {f"aws:RequestTag/{STACK_TAG}": "prod", "aws:TagKeys": [STACK_TAG]}
ON_A_STACK_ROLE = {f"aws:ResourceTag/{STACK_TAG}": "prod"}


def allows(action: str, resource: str, **context) -> list[str]:
    return iam_evaluation.allowing(aws_calls.statements(), iam_evaluation.Request(action, resource, context))


def _with_boundary(arn: str | None) -> dict:
    return {} if arn is None else {"iam:PermissionsBoundary": arn}


# Each step of the escalation: (step, action, resource, the request's condition keys). Every one
# must be refused: while any is allowed, whoever holds the deployer's rights can reach admin.
ESCALATION = [
    ("create a node-named role without a boundary", "iam:CreateRole", NODE_ROLE, STACK_TAGGED),
    (
        "create it with a boundary of its own choosing",
        "iam:CreateRole",
        NODE_ROLE,
        {**STACK_TAGGED, **_with_boundary(ADMIN_POLICY)},
    ),
    (
        "create it with a boundary of the same name in another account",
        "iam:CreateRole",
        NODE_ROLE,
        {**STACK_TAGGED, **_with_boundary("arn:aws:iam::210987654321:policy/bitbucket-mirrors-node-boundary")},
    ),
    (
        "put an inline admin policy on a stack role without the boundary",
        "iam:PutRolePolicy",
        NODE_ROLE,
        ON_A_STACK_ROLE,
    ),
    (
        "put it on a stack role with another boundary",
        "iam:PutRolePolicy",
        NODE_ROLE,
        {**ON_A_STACK_ROLE, **_with_boundary(f"arn:aws:iam::{ACCOUNT}:policy/wide-open")},
    ),
    (
        "attach AdministratorAccess",
        "iam:AttachRolePolicy",
        NODE_ROLE,
        {**ON_A_STACK_ROLE, "iam:PolicyARN": ADMIN_POLICY},
    ),
    ("remove the node role's boundary", "iam:DeleteRolePermissionsBoundary", NODE_ROLE, ON_A_STACK_ROLE),
    (
        "replace the boundary with a wider one",
        "iam:PutRolePermissionsBoundary",
        NODE_ROLE,
        {**ON_A_STACK_ROLE, **_with_boundary(ADMIN_POLICY)},
    ),
    ("change a node role's trust to let itself assume it", "iam:UpdateAssumeRolePolicy", NODE_ROLE, ON_A_STACK_ROLE),
    ("change another role's trust", "iam:UpdateAssumeRolePolicy", OTHER_ROLE, {}),
    ("widen the boundary policy itself", "iam:CreatePolicyVersion", BOUNDARY_ARN, {}),
    ("point the boundary at another version", "iam:SetDefaultPolicyVersion", BOUNDARY_ARN, {}),
    ("pass another role to EC2", "iam:PassRole", OTHER_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}),
    ("pass a node role to Lambda", "iam:PassRole", NODE_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}),
    ("assume a node role", "sts:AssumeRole", NODE_ROLE, {}),
    ("make itself a user with keys", "iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/ci", {}),
]


@pytest.mark.parametrize("action, resource, context", [c[1:] for c in ESCALATION], ids=[c[0] for c in ESCALATION])
def test_a_stolen_deployer_cannot_take_a_step_of_the_escalation(action, resource, context):
    assert allows(action, resource, **context) == [], f"{action} on {resource} is allowed: an escalation path"


def test_the_escalation_as_one_play_fails_at_its_first_step():
    """Create a role without the boundary, put an admin policy on it, pass it to EC2, or change its
    trust: the play needs its first step or its last, and neither is allowed."""
    created = allows("iam:CreateRole", NODE_ROLE, **STACK_TAGGED)
    given_admin = allows("iam:PutRolePolicy", NODE_ROLE, **ON_A_STACK_ROLE)
    trusted = allows("iam:UpdateAssumeRolePolicy", NODE_ROLE, **ON_A_STACK_ROLE)
    assert not ((created and given_admin) or trusted), (created, given_admin, trusted)


GRANTED = [
    # What the program does, under the boundary: allowed, or the deployer policy would fail `up`.
    (
        "create a node role under the boundary",
        "iam:CreateRole",
        NODE_ROLE,
        {**STACK_TAGGED, **_with_boundary(BOUNDARY_ARN)},
    ),
    (
        "write its inline policies under it",
        "iam:PutRolePolicy",
        NODE_ROLE,
        {**ON_A_STACK_ROLE, **_with_boundary(BOUNDARY_ARN)},
    ),
    (
        "set the boundary on a node role created before it",
        "iam:PutRolePermissionsBoundary",
        NODE_ROLE,
        {**ON_A_STACK_ROLE, **_with_boundary(BOUNDARY_ARN)},
    ),
    ("delete an inline policy (it only takes rights away)", "iam:DeleteRolePolicy", NODE_ROLE, ON_A_STACK_ROLE),
    ("pass a node role to EC2", "iam:PassRole", NODE_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"}),
]


@pytest.mark.parametrize("action, resource, context", [c[1:] for c in GRANTED], ids=[c[0] for c in GRANTED])
def test_what_the_program_does_under_the_boundary_is_allowed(action, resource, context):
    assert allows(action, resource, **context), f"{action} on {resource} is refused: `up` would fail"


def test_the_evaluator_refuses_what_a_missing_condition_key_cannot_satisfy():
    # The documented semantics the escalation tests stand on, checked on small documents.
    statement = {
        "Sid": "S",
        "Effect": "Allow",
        "Action": "iam:CreateRole",
        "Resource": "arn:aws:iam::*:role/*",
        "Condition": {"ArnEquals": {"iam:PermissionsBoundary": "arn:aws:iam::${aws:PrincipalAccount}:policy/b"}},
    }

    def allowed(context: dict, account: str = ACCOUNT) -> bool:
        request = iam_evaluation.Request("IAM:createrole", NODE_ROLE, context, account)
        return iam_evaluation.allowing([statement], request) == ["S"]

    assert allowed({"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/b"})
    assert not allowed({})  # a missing key fails ArnEquals
    assert not allowed({"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/b"}, account="210987654321")
    assert not allowed({"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/b2"})
    assert not allowed({"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/B"})  # case-sensitive
    null = {**statement, "Condition": {"Null": {"aws:RequestTag/t": "false"}}}
    assert iam_evaluation.allowing(
        [null], iam_evaluation.Request("iam:CreateRole", NODE_ROLE, {"aws:RequestTag/t": "x"})
    )
    assert not iam_evaluation.allowing([null], iam_evaluation.Request("iam:CreateRole", NODE_ROLE, {}))
    if_exists = {**statement, "Condition": {"StringEqualsIfExists": {"iam:PassedToService": "ec2.amazonaws.com"}}}
    assert iam_evaluation.allowing([if_exists], iam_evaluation.Request("iam:CreateRole", NODE_ROLE, {}))
    with pytest.raises(ValueError):
        iam_evaluation.allowing(
            [{**statement, "Condition": {"NumericEquals": {"k": "1"}}}],
            iam_evaluation.Request("iam:CreateRole", NODE_ROLE, {"k": "v"}),
        )


def test_the_deployer_condition_names_the_boundary_the_docs_give():
    names = {
        value.rsplit("/", 1)[1]
        for s in aws_calls.statements()
        for value in aws_calls.as_list(s.get("Condition", {}).get("ArnEquals", {}).get("iam:PermissionsBoundary", []))
    }
    # docs/iam-permissions-boundary.md creates the boundary under this name.
    assert names == {"bitbucket-mirrors-node-boundary"} == {BOUNDARY_ARN.rsplit("/", 1)[1]}
    assert (
        "--policy-name bitbucket-mirrors-node-boundary" in (ROOT / "docs" / "iam-permissions-boundary.md").read_text()
    )
    guarded = {
        a
        for s in aws_calls.statements()
        if "iam:PermissionsBoundary" in json.dumps(s)
        for a in aws_calls.as_list(s["Action"])
    }
    assert guarded == {"iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"}
    assert "iam:CreateRole" not in {
        a
        for s in aws_calls.statements()
        if s["Sid"] != "IamCreateNodeRolesOnlyUnderTheNodeBoundary"
        for a in aws_calls.as_list(s["Action"])
    }


# ---- the boundary: what a node needs, no more ---------------------------------------------------


def _boundary() -> list[dict]:
    return aws_calls.statements([json.loads(BOUNDARY_FILE.read_text())])


def _node_policies(run: ProgramRun) -> list[dict]:
    documents = [json.loads(r.inputs["policy"]) for r in run.of_type(ROLE_POLICY)]
    assert documents, "the run wrote no node policy"
    # No stack file sets a kmsKeyArn: its statement (kms:Decrypt through SSM) as the program writes it.
    parameter = f"arn:aws:ssm:eu-central-1:{ACCOUNT}:parameter/bitbucket-mirrors/prod/syd-node0/ssh-host-ed25519-key"
    documents.append(json.loads(host_key_policy(parameter, "eu-central-1", KMS_KEY)))
    return [s for d in documents for s in aws_calls.statements([d])]


def _requests_of(statement: dict, region: str = "eu-central-1") -> list[iam_evaluation.Request]:
    """A request each of the node policy's statements allows: its actions on its resources, with the
    condition values it requires."""
    context = {}
    for operator, keys in statement.get("Condition", {}).items():
        assert operator == "StringEquals", operator
        context.update({k: aws_calls.as_list(v)[0] for k, v in keys.items()})
    resources = [r if r != "*" else "*" for r in aws_calls.as_list(statement["Resource"])]
    return [
        iam_evaluation.Request(action, resource, context)
        for action in aws_calls.as_list(statement["Action"])
        for resource in resources
    ]


def test_the_boundary_allows_every_statement_of_every_node_policy_the_program_writes(runs):
    boundary = _boundary()
    for name in ("farm-3", "two-sites", BOUNDED_RUN, "single-nginx"):
        for statement in _node_policies(runs[name]):
            for request in _requests_of(statement):
                assert iam_evaluation.allowing(boundary, request), (name, request)


def test_the_boundary_allows_nothing_a_node_policy_does_not_use(runs):
    used = {a for run in runs.values() for s in _node_policies(run) for a in aws_calls.as_list(s["Action"])}
    assert {a for s in _boundary() for a in aws_calls.as_list(s["Action"])} == used
    # And within those actions, nothing wider than the nodes' own parameters and the project's metrics.
    boundary = _boundary()
    refused = [
        iam_evaluation.Request("ssm:GetParameter", f"arn:aws:ssm:eu-central-1:{ACCOUNT}:parameter/prod/db-password"),
        iam_evaluation.Request("kms:Decrypt", "*", {"kms:ViaService": "s3.eu-central-1.amazonaws.com"}),
        iam_evaluation.Request("kms:Decrypt", "*", {}),
        iam_evaluation.Request("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/EC2"}),
        iam_evaluation.Request("iam:CreateRole", NODE_ROLE, {}),
        iam_evaluation.Request("s3:GetObject", "arn:aws:s3:::any/thing", {}),
    ]
    for request in refused:
        assert iam_evaluation.allowing(boundary, request) == [], request


def test_every_role_the_program_creates_carries_the_configured_boundary(runs):
    roles = runs[BOUNDED_RUN].of_type(ROLE)
    assert roles and all(r.inputs.get("permissionsBoundary") == BOUNDARY_ARN for r in roles), [
        (r.name, r.inputs.get("permissionsBoundary")) for r in roles
    ]
    # Without the key there is none (README: the deployer policy then refuses to create the roles).
    assert all(not r.inputs.get("permissionsBoundary") for r in runs["farm-3"].of_type(ROLE))


def test_a_boundary_that_is_not_a_policy_arn_is_refused_naming_the_key():
    from stack_config.validation import check_config_bag

    config, _ = stack_file_config(STACKS / "farm-3.yaml")
    for wrong in (
        "bitbucket-mirrors-node-boundary",
        "arn:aws:iam::123456789012:role/admin",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    ):
        config["bitbucket-mirrors:iamPermissionsBoundaryArn"] = wrong
        problems = check_config_bag(config, lambda _: None).problems
        assert [p.path for p in problems] == ["iamPermissionsBoundaryArn"], (wrong, problems)
        assert "an IAM policy ARN of your account" in problems[0].message


def test_the_deployer_terminates_only_instances_that_carry_the_stack_tag():
    # The orphan sweep (providers/orphans.py) and the provider's delete: an instance of no stack of
    # this project (another team's, one an admin launched by hand) cannot be terminated whatever the
    # code asks.
    instance = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0"
    assert allows("ec2:TerminateInstances", instance, **{f"aws:ResourceTag/{STACK_TAG}": "prod"})
    assert allows("ec2:TerminateInstances", instance) == []
    assert allows("ec2:TerminateInstances", instance, **{"aws:ResourceTag/Name": "syd-node0"}) == []
