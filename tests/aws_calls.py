"""Every AWS call a `pulumi up`/`preview`/`refresh`/`destroy` of this program makes, as IAM actions:
what terraform-provider-aws (behind pulumi-aws) calls for each resource type and data source the
program registers, and what this repository's own code calls through boto3.

tests/test_deployer_policy.py holds docs/deployer-policy*.json against these: every type and invoke
the program registers must be in a table here (a new one fails until someone has looked up its
permissions), every action here must be allowed by the documents, and every action the documents
allow must be needed by something here.

Sources: the `tpa` paths are files of hashicorp/terraform-provider-aws (internal/service/...), read
for the calls each resource makes on create, read (preview and refresh), update of the arguments the
program sets, tags, and delete. A call that only an argument the program never sets can reach (an
ALB's connection logs, a spot request, a capacity reservation, IPv6 addresses) is left out: least
privilege. The boto3 side is not a table but a scan of the code (`boto3_operations`).
"""

from __future__ import annotations

import ast
import fnmatch
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from tests.resource_types import (
    ALARM,
    ATTACHMENT,
    CERT,
    CERT_VALIDATION,
    COMMAND,
    EGRESS,
    GET_AMI,
    GET_SNAPSHOT,
    GET_SNAPSHOT_IDS,
    GET_SUBNET,
    GET_SUBNETS,
    GET_VPC,
    GROUP,
    INGRESS,
    INSTANCE,
    INSTANCE_PROFILE,
    KEY_PAIR,
    LISTENER,
    NLB,
    PARAMETER,
    PRIVATE_KEY,
    RANDOM_PASSWORD,
    RECORD,
    ROLE,
    ROLE_POLICY,
    SUBSCRIPTION,
    TARGET_GROUP,
    TG_ATTACHMENT,
    TOPIC,
    VOLUME,
)

ROOT = Path(__file__).resolve().parents[1]
POLICY_FILES = (ROOT / "docs" / "deployer-policy.json", ROOT / "docs" / "deployer-policy-2.json")
# What the deployer's own code runs: the program, its components, the dynamic providers and the
# stack-config checks scripts/up.sh runs before `pulumi up` (stack_config/aws_identity.py).
SCANNED = (ROOT / "__main__.py", ROOT / "components", ROOT / "providers", ROOT / "stack_config")


@dataclass(frozen=True)
class Calls:
    source: str  # where the calls were read
    actions: tuple[str, ...]  # IAM actions (service:Action)


def _tpa(path: str, *actions: str) -> Calls:
    return Calls(f"terraform-provider-aws internal/service/{path}", tuple(actions))


# Resource type token -> the calls terraform-provider-aws makes for it.
RESOURCES: dict[str, Calls] = {
    CERT: _tpa(
        "acm/certificate.go",
        "acm:RequestCertificate",
        "acm:AddTagsToCertificate",  # tags on create need the tagging action
        "acm:DescribeCertificate",  # waits for the validation options, reads
        "acm:ListTagsForCertificate",
        "acm:RemoveTagsFromCertificate",
        "acm:DeleteCertificate",
    ),  # retried while the listener still holds it
    CERT_VALIDATION: _tpa("acm/certificate_validation.go", "acm:DescribeCertificate"),
    ALARM: Calls(
        "terraform-provider-aws internal/service/cloudwatch/metric_alarm.go; CloudWatch API reference, "
        "PutMetricAlarm: an alarm with an EC2 action (the system check's recover) needs "
        "iam:CreateServiceLinkedRole for AWSServiceRoleForCloudWatchEvents (events.amazonaws.com)",
        (
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:TagResource",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:ListTagsForResource",
            "cloudwatch:UntagResource",
            "cloudwatch:DeleteAlarms",
            "iam:CreateServiceLinkedRole",
        ),
    ),
    VOLUME: _tpa(
        "ec2/ebs_volume.go",
        "ec2:CreateVolume",
        "ec2:CreateTags",  # TagSpecifications on create
        "ec2:DescribeVolumes",  # waits for available, reads
        "ec2:ModifyVolume",
        "ec2:DescribeVolumesModifications",  # a larger home: modify, wait
        "ec2:DeleteTags",
        "ec2:DeleteVolume",
    ),
    INSTANCE: _tpa(
        "ec2/ec2_instance.go",
        "ec2:RunInstances",
        "ec2:CreateTags",
        "iam:PassRole",  # instance and volume_tags at launch, the profile's role
        "ec2:DescribeImages",  # root_block_device: the AMI's root device name
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceTypes",  # waits, reads; the type's burstable flag
        "ec2:DescribeInstanceAttribute",  # disableApiStop/Termination, userData, shutdown behaviour
        "ec2:DescribeInstanceCreditSpecifications",  # read for burstable (t*) types only
        "ec2:DescribeVolumes",
        "ec2:DescribeTags",  # block devices and volume_tags
        "ec2:DescribeVpcs",  # whether the VPC is the default one
        "ec2:ModifyInstanceAttribute",  # type or user data (stopped first); delete clears termination protection
        "ec2:StopInstances",
        "ec2:StartInstances",  # around a type or user-data change
        "ec2:ModifyInstanceMetadataOptions",  # metadata_options change
        "ec2:ModifyNetworkInterfaceAttribute",  # vpc_security_group_ids change (primary interface)
        "ec2:DescribeIamInstanceProfileAssociations",
        "ec2:AssociateIamInstanceProfile",
        "ec2:ReplaceIamInstanceProfileAssociation",
        "ec2:DisassociateIamInstanceProfile",  # a new profile
        "ec2:ModifyVolume",
        "ec2:DescribeVolumesModifications",  # root_block_device size/type change
        "ec2:DeleteTags",
        "ec2:TerminateInstances",
    ),
    KEY_PAIR: _tpa(
        "ec2/ec2_key_pair.go",
        "ec2:ImportKeyPair",
        "ec2:CreateTags",
        "ec2:DescribeKeyPairs",
        "ec2:DeleteTags",
        "ec2:DeleteKeyPair",
    ),
    GROUP: _tpa(
        "ec2/vpc_security_group.go",
        "ec2:CreateSecurityGroup",
        "ec2:CreateTags",
        "ec2:DescribeSecurityGroups",
        "ec2:RevokeSecurityGroupEgress",  # the default allow-all egress, right after create
        "ec2:RevokeSecurityGroupIngress",  # revoke_rules_on_delete
        "ec2:DescribeNetworkInterfaces",  # lingering interfaces before delete
        "ec2:DeleteTags",
        "ec2:DeleteSecurityGroup",
    ),
    ATTACHMENT: _tpa(
        "ec2/ec2_volume_attachment.go",
        "ec2:DescribeInstances",  # waits for the instance to be running
        "ec2:AttachVolume",
        "ec2:DescribeVolumes",
        "ec2:DetachVolume",
    ),
    INSTANCE_PROFILE: _tpa(
        "iam/instance_profile.go",
        "iam:CreateInstanceProfile",
        "iam:TagInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "iam:PassRole",  # AddRoleToInstanceProfile requires PassRole (IAM API reference)
        "iam:GetInstanceProfile",
        "iam:GetRole",
        "iam:RemoveRoleFromInstanceProfile",
        "iam:UntagInstanceProfile",
        "iam:DeleteInstanceProfile",
    ),
    ROLE: _tpa(
        "iam/role.go",
        "iam:CreateRole",
        "iam:TagRole",
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",  # inline_policy, read on every refresh
        "iam:ListAttachedRolePolicies",  # managed_policy_arns, likewise
        # iamPermissionsBoundaryArn set on a role created before it (CreateRole carries it otherwise).
        # Not iam:UpdateAssumeRolePolicy: the trust policy is a constant of components/host.py, and
        # changing a role's trust is how a stolen deployer would let itself assume a node role; nor
        # iam:DeleteRolePermissionsBoundary (the key taken out again): both are an admin's to do.
        "iam:PutRolePermissionsBoundary",
        "iam:UntagRole",
        "iam:ListInstanceProfilesForRole",
        "iam:RemoveRoleFromInstanceProfile",  # delete: out of its profiles first
        "iam:DeleteRolePolicy",
        "iam:DeleteRole",
    ),  # delete: inline policies it read, then the role
    ROLE_POLICY: _tpa("iam/role_policy.go", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"),
    LISTENER: _tpa(
        "elbv2/listener.go",
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeListenerAttributes",  # not for TLS listeners, for the TCP one
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:DeleteListener",
    ),
    NLB: Calls(
        "terraform-provider-aws internal/service/elbv2/load_balancer.go; Elastic Load Balancing user guide, "
        "service-linked role (created by the first load balancer of an account)",
        (
            "elasticloadbalancing:DescribeLoadBalancers",  # name taken? waits for active, reads
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:ModifyLoadBalancerAttributes",
            "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeCapacityReservation",  # read, for application and network load balancers
            "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:RemoveTags",
            "elasticloadbalancing:SetSecurityGroups",
            "elasticloadbalancing:SetSubnets",
            "elasticloadbalancing:DeleteLoadBalancer",
            "ec2:DescribeNetworkInterfaces",  # delete waits for its interfaces to go
            "iam:CreateServiceLinkedRole",
        ),
    ),
    TARGET_GROUP: _tpa(
        "elbv2/target_group.go",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:ModifyTargetGroupAttributes",  # deregistration delay, after create
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:DescribeTags",
        "elasticloadbalancing:ModifyTargetGroup",  # health check change
        "elasticloadbalancing:RemoveTags",
        "elasticloadbalancing:DeleteTargetGroup",
    ),
    TG_ATTACHMENT: _tpa(
        "elbv2/target_group_attachment.go",
        "elasticloadbalancing:RegisterTargets",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:DeregisterTargets",
    ),
    RECORD: _tpa(
        "route53/record.go",
        "route53:GetHostedZone",  # the zone's name, for the record's FQDN
        "route53:ChangeResourceRecordSets",
        "route53:GetChange",  # UPSERT/DELETE, wait for INSYNC
        "route53:ListResourceRecordSets",
    ),
    TOPIC: _tpa(
        "sns/topic.go",
        "sns:CreateTopic",
        "sns:TagResource",
        "sns:SetTopicAttributes",
        "sns:GetTopicAttributes",
        "sns:ListTagsForResource",
        "sns:UntagResource",
        "sns:DeleteTopic",
    ),
    SUBSCRIPTION: _tpa(
        "sns/topic_subscription.go",
        "sns:Subscribe",
        "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes",
        "sns:Unsubscribe",
    ),
    PARAMETER: _tpa(
        "ssm/parameter.go",
        "ssm:PutParameter",
        "ssm:AddTagsToResource",
        "ssm:GetParameter",  # with decryption (the AWS managed aws/ssm key: no kms permission)
        "ssm:DescribeParameters",  # description, tier, data type
        "ssm:ListTagsForResource",
        "ssm:RemoveTagsFromResource",
        "ssm:DeleteParameter",
    ),
    EGRESS: _tpa(
        "ec2/vpc_security_group_egress_rule.go",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:DescribeSecurityGroupRules",
        "ec2:ModifySecurityGroupRules",
        "ec2:RevokeSecurityGroupEgress",
    ),
    INGRESS: _tpa(
        "ec2/vpc_security_group_ingress_rule.go",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:DescribeSecurityGroupRules",
        "ec2:ModifySecurityGroupRules",
        "ec2:RevokeSecurityGroupIngress",
    ),
}

# Data source (invoke) token -> the calls terraform-provider-aws makes for it.
INVOKES: dict[str, Calls] = {
    GET_SNAPSHOT: _tpa("ec2/ebs_snapshot_data_source.go", "ec2:DescribeSnapshots"),
    GET_SNAPSHOT_IDS: _tpa("ec2/ebs_snapshot_ids_data_source.go", "ec2:DescribeSnapshots"),
    GET_AMI: _tpa("ec2/ec2_ami_data_source.go", "ec2:DescribeImages"),
    GET_SUBNET: _tpa("ec2/vpc_subnet_data_source.go", "ec2:DescribeSubnets"),
    GET_SUBNETS: _tpa("ec2/vpc_subnets_data_source.go", "ec2:DescribeSubnets"),
    GET_VPC: _tpa(
        "ec2/vpc_data_source.go",
        "ec2:DescribeVpcs",
        "ec2:DescribeVpcAttribute",  # enableDnsHostnames/Support, address usage metrics
        "ec2:DescribeRouteTables",
    ),  # main_route_table_id
}

# Types whose provider makes no AWS call of its own.
NO_AWS_CALLS: dict[str, str] = {
    COMMAND: "pulumi-command: commands over SSH on the node",
    PRIVATE_KEY: "pulumi-tls: keys generated locally",
    RANDOM_PASSWORD: "pulumi-random: generated locally",
}

# The program's dynamic providers (pulumi-python:dynamic/bitbucket:<kind>) -> the module that holds
# the provider. Their AWS calls are not listed by hand: `boto3_operations` reads them from the code.
DYNAMIC_PROVIDERS: dict[str, str] = {
    "ArchiveTrust": "providers/archive_trust.py",
    "HomeBackup": "providers/backup.py",
    "InstanceModification": "providers/instance_change.py",
    "InstanceStartReturn": "providers/node_rollout.py",
    "InstanceStopDrain": "providers/node_rollout.py",
    "MirrorApproval": "providers/mirror_approval.py",
    "MirrorGeneration": "providers/mirror_generation.py",
    "MirrorSetup": "providers/mirror_setup.py",
    "MirroredProjects": "providers/mirrored_projects.py",
    "NodeDrain": "providers/node_rollout.py",
    "NodeReturn": "providers/node_rollout.py",
    "RootVolumeReplacement": "providers/os_refresh.py",
    "UpgradeFinish": "providers/upgrade.py",
    "UpgradeWindow": "providers/upgrade.py",
}

# What pulumi-aws does once per run, whatever the program registers: the credential check when the
# provider is configured (terraform-provider-aws internal/conns, `skip_credentials_validation` unset).
PROVIDER_CALLS = Calls(
    "terraform-provider-aws internal/conns/config.go (aws-sdk-go-base looks up the account)", ("sts:GetCallerIdentity",)
)

# Actions no IAM policy can grant or refuse, so the documents leave them out.
NEEDS_NO_PERMISSION: dict[str, str] = {
    "sts:GetCallerIdentity": "STS API reference, GetCallerIdentity: no permissions are required, and an "
    "explicit deny does not apply to it",
}


def table_actions() -> dict[str, set[str]]:
    """IAM action -> the tokens (or code) that need it."""
    needed: dict[str, set[str]] = {}
    for token, calls in {**RESOURCES, **INVOKES, "pulumi-aws provider": PROVIDER_CALLS}.items():
        for action in calls.actions:
            needed.setdefault(action, set()).add(token)
    return needed


# ---- the code's own boto3 calls -------------------------------------------------------------------


def _shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def python_files(paths: Iterable[Path] = SCANNED) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


@dataclass(frozen=True)
class CodeCall:
    service: str  # the boto3 service name ("ec2", "elbv2", "sts")
    operation: str  # the API operation ("DescribeInstances")
    where: str  # file:line

    @property
    def action(self) -> str:
        return f"{iam_prefix(self.service)}:{self.operation}"


@lru_cache(maxsize=None)
def _client(service: str):
    import botocore.session

    # No request is made: a client only to read its service model (operations, paginators, waiters).
    return botocore.session.get_session().create_client(
        service, region_name="us-east-1", aws_access_key_id="unused", aws_secret_access_key="unused"
    )


# boto3 service name -> IAM service prefix. Often the SigV4 signing name (elbv2 signs as
# elasticloadbalancing), but not always (CloudWatch signs as monitoring): each one is written here.
IAM_PREFIXES: dict[str, str] = {"ec2": "ec2", "elbv2": "elasticloadbalancing", "ssm": "ssm", "sts": "sts"}


def iam_prefix(service: str) -> str:
    if service not in IAM_PREFIXES:
        raise KeyError(f"the code creates a boto3 {service!r} client: add its IAM prefix to IAM_PREFIXES")
    return IAM_PREFIXES[service]


def boto3_services(files: Iterable[Path]) -> tuple[set[str], list[str]]:
    """The services named by `<x>.client("<service>", ...)` calls (a string literal that is a botocore
    service), and the boto3 calls the scan cannot follow: `boto3.client`/`Session.client` of a computed
    service name, and boto3's resource API."""
    import botocore.session

    known = set(botocore.session.get_session().get_available_services())
    services: set[str] = set()
    unreadable: list[str] = []
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            where = f"{_shown(path)}:{node.lineno}"
            owner = ast.unparse(node.func.value)
            boto = owner == "boto3" or "session" in owner.lower()
            if node.func.attr == "resource" and boto:
                unreadable.append(f"{where}: {owner}.resource(...)")
            if node.func.attr != "client":
                continue
            first = (
                node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "service_name"), None)
            )
            if isinstance(first, ast.Constant) and first.value in known:
                services.add(first.value)
            elif boto:
                unreadable.append(f"{where}: {owner}.client() of a computed service name")
    return services, unreadable


def boto3_operations(files: Iterable[Path] | None = None) -> list[CodeCall]:
    """Every AWS operation the code may call through boto3, read from the source (ast):

    - `x.<method>(...)` where <method> is an operation of a service the code creates a client for
      (botocore's `method_to_api_mapping`: snake_case method -> operation). The client's variable is
      not followed: a method name that is an operation of a used service counts as that call (of every
      such service, should two share it), so a call through a helper or an attribute is not missed;
    - `x.get_paginator("<method>")` and `x.get_waiter("<name>")` (the waiter's operation).
    """
    files = python_files() if files is None else list(files)
    services, _ = boto3_services(files)
    mappings = {svc: _client(svc).meta.method_to_api_mapping for svc in sorted(services)}
    calls: list[CodeCall] = []
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            where = f"{_shown(path)}:{node.lineno}"
            method = node.func.attr
            literal = (
                node.args[0].value
                if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                else None
            )
            for svc, mapping in mappings.items():
                if method in mapping:
                    calls.append(CodeCall(svc, mapping[method], where))
                elif method == "get_paginator" and literal in mapping:
                    calls.append(CodeCall(svc, mapping[literal], where))
                elif method == "get_waiter" and literal is not None and literal in _client(svc).waiter_names:
                    calls.append(CodeCall(svc, _client(svc).get_waiter(literal).config.operation, where))
    return calls


# ---- the policy documents -------------------------------------------------------------------------


def documents() -> list[dict]:
    return [json.loads(path.read_text()) for path in POLICY_FILES]


def statements(docs: Iterable[dict] | None = None) -> list[dict]:
    found: list[dict] = []
    for doc in documents() if docs is None else docs:
        body = doc["Statement"]
        found += body if isinstance(body, list) else [body]
    return found


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def allowing(action: str, docs: Iterable[dict] | None = None) -> list[str]:
    """The Sids of the Allow statements whose Action matches `action` (IAM's action matching:
    case-insensitive, `*` and `?` wildcards). Resources and conditions are parliament's and
    `uncovered_resource_types`' to check, not this function's."""
    return [
        s.get("Sid", "?")
        for s in statements(docs)
        if s["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in as_list(s["Action"]))
    ]
