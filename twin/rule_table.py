"""The twin's rule table: for each pulumi-aws (and pulumi-random) type the program uses, which inputs
force a replacement and which change in place, each with its source; and pulumi-command's own rules.

pulumi-aws wraps terraform-provider-aws (TPA below, `internal/service/...`). twin/rules.py applies
the table, with the engine's options, to a changed resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

TPA = "hashicorp/terraform-provider-aws "


@dataclass(frozen=True)
class TypeRules:
    """What a change to each input of one resource type does (replace or update), with its source."""

    replace: frozenset[str]  # a change replaces the resource
    in_place: frozenset[str]  # a change is an update
    source: str
    # Rules that depend on the values: (name, predicate(old_inputs, new_inputs) -> replace?, source).
    conditional: tuple[tuple[str, Callable[[dict, dict], bool], str], ...] = ()
    # Always delete before replace (explicitly named resources: the bridge's
    # nameRequiresDeleteBeforeReplace, pkg/tfbridge/schema.go).
    delete_before_replace: bool = False
    # Optional+Computed inputs: left out of the program, the plan keeps the prior state's value, so
    # no diff (terraform-plugin-sdk helper/schema/schema.go, Computed: "If Optional is also set, the
    # value may be set in configuration"; the bridge plans through the SDK's diff).
    kept_when_omitted: frozenset[str] = frozenset()


def _instance_type_arch_changes(old: dict, new: dict) -> bool:
    # TPA ec2_instance.go CustomizeDiff: ForceNewIf(instance_type) when the two types share no CPU
    # architecture. Graviton families carry a 'g' after the generation digit (m7g, c6g, t4g).
    import re

    def arch(t: Any) -> str:
        return "arm64" if isinstance(t, str) and re.match(r"^[a-z]+\d+g", t) else "x86_64"

    return "instanceType" in new and arch(old.get("instanceType")) != arch(new.get("instanceType"))


def _user_data_replaces(old: dict, new: dict) -> bool:
    # TPA ec2_instance.go CustomizeDiff: ForceNewIf("user_data", ... diff.Get("user_data_replace_on_change")).
    return bool(new.get("userDataReplaceOnChange")) and old.get("userData") != new.get("userData")


def _nlb_subnets(old: dict, new: dict) -> bool:
    # TPA elbv2/load_balancer.go customizeDiffLoadBalancerNLB: subnets force new unless only added.
    o, n = set(old.get("subnets") or []), set(new.get("subnets") or [])
    return o != n and not o <= n


def _nlb_security_groups(old: dict, new: dict) -> bool:
    # Same function: "cannot have security groups added if none are present, and cannot have all
    # security groups removed".
    o, n = old.get("securityGroups") or [], new.get("securityGroups") or []
    return bool(o) != bool(n)


def _rule_source_type(old: dict, new: dict) -> bool:
    # TPA vpc_security_group_ingress_rule.go ModifyPlan: "When you modify a rule, you cannot change
    # the rule's source type" -> RequiresReplace.
    kinds = ("cidrIpv4", "cidrIpv6", "referencedSecurityGroupId", "prefixListId")
    return [k for k in kinds if old.get(k)] != [k for k in kinds if new.get(k)]


_SG_RULE = TypeRules(
    replace=frozenset({"securityGroupId", "region"}),
    in_place=frozenset(
        {
            "cidrIpv4",
            "cidrIpv6",
            "fromPort",
            "toPort",
            "ipProtocol",
            "referencedSecurityGroupId",
            "prefixListId",
            "description",
            "tags",
        }
    ),
    source=TPA + "internal/service/ec2/vpc_security_group_ingress_rule.go (framework: securityGroupId "
    "RequiresReplace; the rest via ModifySecurityGroupRules)",
    conditional=(("source type", _rule_source_type, TPA + "vpc_security_group_ingress_rule.go ModifyPlan"),),
)

# `region` (pulumi-aws 7's per-resource region argument) replaces every regional resource: a
# resource cannot move between regions (https://www.pulumi.com/dev/tutorials/aws-enhanced-region-support/,
# "How region works": replacement behavior).
RULES: dict[str, TypeRules] = {
    "aws:ec2/instance:Instance": TypeRules(
        replace=frozenset(
            {
                "ami",
                "subnetId",
                "keyName",
                "associatePublicIpAddress",
                "availabilityZone",
                "region",
                "rootBlockDevice.encrypted",
                "rootBlockDevice.kmsKeyId",
            }
        ),
        in_place=frozenset(
            {
                "instanceType",
                "vpcSecurityGroupIds",
                "iamInstanceProfile",
                "metadataOptions",
                "rootBlockDevice.volumeSize",
                "rootBlockDevice.volumeType",
                "rootBlockDevice.deleteOnTermination",
                "userData",
                "userDataReplaceOnChange",
                "tags",
                "volumeTags",
            }
        ),
        source=TPA + "internal/service/ec2/ec2_instance.go (schema ForceNew; resourceInstanceUpdate: "
        "instance_type and user_data by modifyInstanceAttributeWithStopStart)",
        conditional=(
            (
                "instanceType across CPU architectures",
                _instance_type_arch_changes,
                TPA + "ec2_instance.go CustomizeDiff ForceNewIf(instance_type)",
            ),
            (
                "userData with userDataReplaceOnChange",
                _user_data_replaces,
                TPA + "ec2_instance.go CustomizeDiff ForceNewIf(user_data)",
            ),
        ),
    ),
    "aws:ebs/volume:Volume": TypeRules(
        replace=frozenset({"availabilityZone", "encrypted", "kmsKeyId", "snapshotId", "region"}),
        in_place=frozenset({"size", "type", "iops", "throughput", "tags"}),
        kept_when_omitted=frozenset({"snapshotId"}),
        source=TPA + "internal/service/ec2/ebs_volume.go (size, type: ModifyVolume in resourceEBSVolumeUpdate; "
        "snapshot_id Optional, Computed, ForceNew)",
    ),
    "aws:ec2/volumeAttachment:VolumeAttachment": TypeRules(
        replace=frozenset({"deviceName", "instanceId", "volumeId", "region"}),
        in_place=frozenset({"stopInstanceBeforeDetaching", "forceDetach", "skipDestroy"}),
        source=TPA + "internal/service/ec2/ebs_volume_attachment.go (UpdateWithoutTimeout: NoopContext)",
    ),
    "aws:lb/loadBalancer:LoadBalancer": TypeRules(
        replace=frozenset({"name", "namePrefix", "internal", "loadBalancerType", "region"}),
        in_place=frozenset({"subnets", "securityGroups", "enableCrossZoneLoadBalancing", "tags"}),
        source=TPA + "internal/service/elbv2/load_balancer.go",
        conditional=(
            ("NLB subnets removed", _nlb_subnets, TPA + "load_balancer.go customizeDiffLoadBalancerNLB"),
            (
                "NLB security groups none <-> some",
                _nlb_security_groups,
                TPA + "load_balancer.go customizeDiffLoadBalancerNLB",
            ),
        ),
    ),
    "aws:lb/targetGroup:TargetGroup": TypeRules(
        replace=frozenset({"name", "namePrefix", "port", "protocol", "targetType", "vpcId", "region"}),
        in_place=frozenset({"healthCheck", "deregistrationDelay", "tags"}),
        source=TPA + "internal/service/elbv2/target_group.go (health_check: ModifyTargetGroup; "
        "deregistration_delay: ModifyTargetGroupAttributes)",
    ),
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": TypeRules(
        replace=frozenset({"targetGroupArn", "targetId", "port", "availabilityZone", "region"}),
        in_place=frozenset(),
        source=TPA + "internal/service/elbv2/target_group_attachment.go (no Update: every argument ForceNew)",
    ),
    "aws:lb/listener:Listener": TypeRules(
        replace=frozenset({"loadBalancerArn", "region"}),
        in_place=frozenset({"port", "protocol", "certificateArn", "sslPolicy", "defaultActions", "tags"}),
        source=TPA + "internal/service/elbv2/listener.go (ModifyListener)",
    ),
    "aws:ec2/securityGroup:SecurityGroup": TypeRules(
        replace=frozenset({"name", "namePrefix", "description", "vpcId", "region"}),
        in_place=frozenset({"revokeRulesOnDelete", "tags", "ingress", "egress"}),
        source=TPA + "internal/service/ec2/vpc_security_group.go",
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _SG_RULE,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _SG_RULE,
    "aws:ec2/keyPair:KeyPair": TypeRules(
        replace=frozenset({"publicKey", "keyName", "keyNamePrefix", "region"}),
        in_place=frozenset({"tags"}),
        source=TPA + "internal/service/ec2/ec2_key_pair.go (Update: 'Tags only.')",
    ),
    "aws:iam/role:Role": TypeRules(
        replace=frozenset({"name", "namePrefix", "path"}),
        in_place=frozenset({"assumeRolePolicy", "description", "maxSessionDuration", "permissionsBoundary", "tags"}),
        source=TPA + "internal/service/iam/role.go",
    ),
    "aws:iam/rolePolicy:RolePolicy": TypeRules(
        replace=frozenset({"role", "name", "namePrefix"}),
        in_place=frozenset({"policy"}),
        source=TPA + "internal/service/iam/role_policy.go (PutRolePolicy)",
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": TypeRules(
        replace=frozenset({"role", "policyArn"}),
        in_place=frozenset(),
        source=TPA + "internal/service/iam/role_policy_attachment.go (no Update)",
    ),
    "aws:iam/instanceProfile:InstanceProfile": TypeRules(
        replace=frozenset({"name", "namePrefix", "path"}),
        in_place=frozenset({"role", "tags"}),
        source=TPA + "internal/service/iam/instance_profile.go",
    ),
    "aws:ssm/parameter:Parameter": TypeRules(
        replace=frozenset({"name", "dataType", "region"}),
        in_place=frozenset({"type", "value", "description", "keyId", "allowedPattern", "tags", "tier"}),
        source=TPA + "internal/service/ssm/parameter.go (PutParameter Overwrite)",
        # An explicitly named resource: the bridge deletes it before creating its replacement.
        delete_before_replace=True,
    ),
    "aws:acm/certificate:Certificate": TypeRules(
        replace=frozenset({"domainName", "validationMethod", "subjectAlternativeNames", "keyAlgorithm", "region"}),
        in_place=frozenset({"tags", "options"}),
        source=TPA + "internal/service/acm/certificate.go",
    ),
    "aws:acm/certificateValidation:CertificateValidation": TypeRules(
        replace=frozenset({"certificateArn", "validationRecordFqdns", "region"}),
        in_place=frozenset(),
        source=TPA + "internal/service/acm/certificate_validation.go (no Update)",
    ),
    "aws:route53/record:Record": TypeRules(
        replace=frozenset({"zoneId", "name"}),
        in_place=frozenset({"type", "records", "ttl", "aliases", "allowOverwrite", "setIdentifier"}),
        source=TPA + "internal/service/route53/record.go (resourceRecordUpdate)",
    ),
    "aws:sns/topic:Topic": TypeRules(
        replace=frozenset({"name", "namePrefix", "fifoTopic", "region"}),
        in_place=frozenset({"tags", "kmsMasterKeyId"}),
        source=TPA + "internal/service/sns/topic.go",
    ),
    "aws:sns/topicSubscription:TopicSubscription": TypeRules(
        replace=frozenset({"topic", "protocol", "endpoint", "region"}),
        in_place=frozenset({"filterPolicy"}),
        source=TPA + "internal/service/sns/topic_subscription.go",
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": TypeRules(
        replace=frozenset({"name", "region"}),
        in_place=frozenset(
            {
                "alarmActions",
                "alarmDescription",
                "comparisonOperator",
                "dimensions",
                "evaluationPeriods",
                "metricName",
                "namespace",
                "okActions",
                "period",
                "statistic",
                "tags",
                "threshold",
                "treatMissingData",
                "datapointsToAlarm",
            }
        ),
        source=TPA + "internal/service/cloudwatch/metric_alarm.go (PutMetricAlarm on any change)",
    ),
    "aws:kms/key:Key": TypeRules(
        replace=frozenset({"customerMasterKeySpec", "keyUsage", "region"}),
        in_place=frozenset({"description", "policy", "enableKeyRotation", "deletionWindowInDays", "tags"}),
        source=TPA + "internal/service/kms/key.go",
    ),
    "tls:index/privateKey:PrivateKey": TypeRules(
        replace=frozenset({"algorithm", "rsaBits", "ecdsaCurve"}),
        in_place=frozenset(),
        source="hashicorp/terraform-provider-tls internal/provider/resource_private_key.go (every attribute "
        "RequiresReplace)",
    ),
    "random:index/randomPassword:RandomPassword": TypeRules(
        replace=frozenset(
            {
                "length",
                "special",
                "upper",
                "lower",
                "numeric",
                "keepers",
                "overrideSpecial",
                "minLower",
                "minUpper",
                "minNumeric",
                "minSpecial",
            }
        ),
        in_place=frozenset(),
        source="hashicorp/terraform-provider-random internal/provider/resource_password.go (every attribute "
        "RequiresReplace)",
    ),
}

# pulumi-command (github.com/pulumi/pulumi-command, v1.2.1): only `triggers` replaces
# (provider/pkg/provider/common/inputs.go: `provider:"replaceOnChanges"`); any other input change is
# an update (pulumi-go-provider infer diff), and Update runs `update` when set, else `create`
# (remote/commandController.go Update). A replacement creates first and runs the old one's
# `delete` with the old connection at the end (engine create-before-delete).
COMMAND = "command:remote:Command"
COMMAND_REPLACE = frozenset({"triggers"})
COMMAND_IN_PLACE = frozenset(
    {"create", "update", "delete", "connection", "environment", "stdin", "logging", "addPreviousOutputInEnv"}
)
COMMAND_SOURCE = (
    "pulumi/pulumi-command provider/pkg/provider/common/inputs.go (triggers: replaceOnChanges), "
    "remote/commandController.go Update (runs update, else create)"
)
