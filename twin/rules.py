"""What the engine does with a changed resource: the twin's rule table, each rule with its source.

For the pulumi-aws resources the program uses, which inputs force a replacement and which change
in place (pulumi-aws wraps terraform-provider-aws: TPA below, `internal/service/...`); for
pulumi-command's Command, its own rules; and the engine's options (`ignoreChanges`,
`replaceOnChanges`, `deleteBeforeReplace`). An input the table does not know is an error: a new
property in the program must be looked up before the twin will say what its change does.

Dynamic resources are not here: the twin asks their own providers (`check` and `diff`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from . import engine_rules

TPA = "hashicorp/terraform-provider-aws "
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class TypeRules:
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

ENGINE_SOURCES = {
    "order": "pulumi/pulumi pkg/resource/deploy/step_generator.go: create-before-delete by default, the old "
    "resource deleted with the deletes after the program exits (GenerateDeletes)",
    "dbr": "step_generator.go: deleteBeforeReplace deletes the dependents that would be replaced "
    "(calculateDependentReplacements), then the old resource, then creates the new one",
    "deletes": "step_generator.go ScheduleDeletes: antichains in reverse dependency order",
    "pending_replacement": "step_generator.go: a dependent deleted for a delete-before-replace is marked "
    "PendingReplacement (NewDeleteReplacementStep pendingReplace=true); its registration "
    "creates it and deletes nothing",
    "ignore": engine_rules.SOURCES["ignore_paths"],
    "replace_on": "step_generator.go applyReplaceOnChanges: only when the diff has changes",
    "parallel": engine_rules.SOURCES["parallel"],
    "recheck": engine_rules.SOURCES["recheck"],
    "same_unless_some": engine_rules.SOURCES["same_unless_some"],
    "dbr_override": engine_rules.SOURCES["dbr_override"],
    "register": "sdk/python/lib/pulumi/runtime/resource.py prepare_resource: a registration waits for its "
    "depends_on, parent and input Outputs, i.e. for those resources' steps",
}


@dataclass
class Decision:
    operation: str  # same | update | replace
    changed: list[str] = field(default_factory=list)
    replace_keys: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    rule_sources: list[str] = field(default_factory=list)


def _leaves(value: Any, prefix: str) -> dict[str, Any]:
    """A map's entries as the engine's detailed diff names them: `tags["Name"]`, `block.key`."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(
                _leaves(v, f'{prefix}["{k}"]' if not str(k).isidentifier() or prefix == "tags" else f"{prefix}.{k}")
            )
        return out
    return {prefix: value}


def changed_properties(type_: str, old: dict, new: dict) -> list[str]:
    """The input paths that differ, down to map entries (`tags["Name"]`) and nested blocks."""
    changed = []
    for key in sorted(set(old) | set(new)):
        if key.startswith("__"):
            continue
        o, n = old.get(key), new.get(key)
        if (isinstance(o, dict) or isinstance(n, dict)) and o != n:
            lo, ln = _leaves(o or {}, key), _leaves(n or {}, key)
            changed += [k for k in sorted(set(lo) | set(ln)) if lo.get(k) != ln.get(k)]
        elif o != n:
            changed.append(key)
    return changed


def rule_key(type_: str, path: str) -> str:
    """The rule-table name of a changed path: its top-level input, or `block.key` where the table
    names a key inside a block (rootBlockDevice.encrypted)."""
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    dotted = ".".join(re.split(r"[.\[]", path.replace('"]', "").replace('["', "."))[:2])
    return dotted if dotted in _names(type_) else top


def _names(type_: str) -> frozenset[str]:
    rules = RULES.get(type_)
    return (rules.replace | rules.in_place) if rules else frozenset()


def is_unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return value == UNKNOWN


def matches(path: str, pattern: str) -> bool:
    """The engine's PropertyPath.Contains for the patterns the program uses: `a.b`, `a["b"]`, `a[*]`."""
    norm = lambda p: re.sub(r"\[(\d+)\]", r".\1", p.replace('["', ".").replace('"]', "").replace("[*]", ".*"))  # noqa: E731
    want, have = norm(pattern).split("."), norm(path).split(".")
    return len(want) <= len(have) and all(w in ("*", h) for w, h in zip(want, have))


def decide(
    type_: str,
    old: dict,
    new: dict,
    *,
    ignore_changes: list[str] = (),
    replace_on_changes: list[str] = (),
    delete_before_replace: Optional[bool] = None,
) -> Decision:
    """same / update / replace for a native (non-dynamic) resource, as the engine and provider would."""
    new = engine_rules.process_ignore_changes(new, old, list(ignore_changes))  # by property path
    if type_ == COMMAND:
        changed = changed_properties(type_, old, new)
        unknown_rule = [k for k in changed if rule_key(type_, k) not in COMMAND_REPLACE | COMMAND_IN_PLACE]
        if unknown_rule:
            raise KeyError(f"twin: no rule for {type_} input(s) {unknown_rule}")
        replace = [k for k in changed if rule_key(type_, k) in COMMAND_REPLACE]
        decision = Decision(
            "replace" if replace else ("update" if changed else "same"), changed, replace, rule_sources=[COMMAND_SOURCE]
        )
    else:
        rules = RULES.get(type_)
        if rules is None:
            raise KeyError(f"twin: no rule table for {type_}: look up which of its inputs force a replacement")
        for key in rules.kept_when_omitted:
            if new.get(key) is None and key in old:
                new[key] = old[key]
        changed = changed_properties(type_, old, new)
        unknown_rule = [k for k in changed if rule_key(type_, k) not in rules.replace | rules.in_place]
        if unknown_rule:
            raise KeyError(f"twin: no rule for {type_} input(s) {unknown_rule} (source to read: {rules.source})")
        replace = [k for k in changed if rule_key(type_, k) in rules.replace]
        sources = [rules.source]
        for name, predicate, source in rules.conditional:
            if predicate(old, new):
                replace.append(name)
                sources.append(source)
        decision = Decision(
            # A replace key without a change is a Same step (engine_rules.SOURCES["same_unless_some"]).
            engine_rules.diff_operation(
                engine_rules.DIFF_SOME if changed else engine_rules.DIFF_NONE, bool(replace), False
            ),
            changed,
            replace,
            delete_before_replace=rules.delete_before_replace,
            rule_sources=sources,
        )
    if decision.operation == "update" and replace_on_changes:
        hits = [c for c in decision.changed for p in replace_on_changes if matches(c, p)]
        if hits:
            decision.operation, decision.replace_keys = "replace", hits
            decision.rule_sources.append(ENGINE_SOURCES["replace_on"])
    if decision.operation == "replace":  # the option, when given, overrides the provider's answer
        decision.delete_before_replace = engine_rules.delete_before_replace(
            decision.delete_before_replace, delete_before_replace
        )
        if delete_before_replace is not None:
            decision.rule_sources.append(engine_rules.SOURCES["dbr_override"])
    return decision
