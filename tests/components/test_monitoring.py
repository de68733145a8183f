"""Alarms, automatic recovery and the node-side publisher, on a farm and a single node in two regions.

Each alarm is checked as CloudWatch would take it: its PutMetricAlarm parameters are validated
against botocore's own service model, and the node role's statement is linted by parliament.
"""

from __future__ import annotations

import json

import botocore.session
import parliament
import pytest
from botocore.validate import ParamValidator

from components.monitoring import metrics_policy
from tests.harness import STACKS, ProgramRun, RecordedResource, run_program, stack_file_config, unwrap_secret
from tests.resource_types import (
    ALARM,
    ATTACHMENT,
    COMMAND,
    INGRESS,
    INSTANCE,
    NLB,
    ROLE,
    ROLE_POLICY,
    SUBSCRIPTION,
    TARGET_GROUP,
    TOPIC,
    VOLUME,
)

REGIONS = {"fra": "eu-central-1", "syd": "ap-southeast-2"}
SYD_TOPIC = "arn:aws:sns:ap-southeast-2:123456789012:sydney-oncall"


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return run_program(STACKS / "monitored.yaml")


def alarms_of(run: ProgramRun, site: str) -> dict[str, RecordedResource]:
    return {a.name: a for a in run.of_type(ALARM) if a.name.startswith(f"{site}-")}


def put_metric_alarm_params(alarm: RecordedResource) -> dict:
    """The PutMetricAlarm request pulumi-aws (Terraform's aws_cloudwatch_metric_alarm) makes."""
    i = alarm.inputs
    return {
        "AlarmName": i["name"],
        "AlarmDescription": i["alarmDescription"],
        "Namespace": i["namespace"],
        "MetricName": i["metricName"],
        "Statistic": i["statistic"],
        "Dimensions": [{"Name": k, "Value": v} for k, v in i["dimensions"].items()],
        "Period": int(i["period"]),
        "EvaluationPeriods": int(i["evaluationPeriods"]),
        "Threshold": float(i["threshold"]),
        "ComparisonOperator": i["comparisonOperator"],
        "TreatMissingData": i["treatMissingData"],
        "AlarmActions": i["alarmActions"],
        "OKActions": i["okActions"],
        "ActionsEnabled": True,
    }


def test_every_alarm_is_a_request_cloudwatch_accepts(run):
    model = botocore.session.get_session().get_service_model("cloudwatch")
    shape = model.operation_model("PutMetricAlarm").input_shape
    alarms = run.of_type(ALARM)
    assert alarms
    for alarm in alarms:
        report = ParamValidator().validate(put_metric_alarm_params(alarm), shape)
        assert not report.has_errors(), (alarm.name, report.generate_report())
        # What the model cannot know: namespaces, metrics and statistics CloudWatch publishes.
        i = alarm.inputs
        assert (i["namespace"], i["metricName"]) in {
            ("AWS/NetworkELB", "HealthyHostCount"),
            ("AWS/EC2", "StatusCheckFailed_System"),
            ("AWS/EC2", "StatusCheckFailed_Instance"),
            ("BitbucketMirrors", "HomeUsedPercent"),
            ("BitbucketMirrors", "StatusRunning"),
        }
        assert i["period"] % 60 == 0 and i["name"].startswith("bitbucket-mirrors-test-")


def test_the_farm_has_load_balancer_alarms_and_every_node_its_four(run):
    fra = alarms_of(run, "fra")
    for label in ("https", "ssh"):
        degraded, down = fra[f"fra-{label}-degraded"].inputs, fra[f"fra-{label}-down"].inputs
        assert (degraded["comparisonOperator"], degraded["threshold"], degraded["statistic"]) == (
            "LessThanThreshold",
            3,
            "Minimum",
        )
        assert (down["comparisonOperator"], down["threshold"], down["treatMissingData"]) == (
            "LessThanThreshold",
            1,
            "breaching",
        )
    for i in range(3):
        assert {
            f"fra-node{i}-{kind}" for kind in ("system-check", "instance-check", "home-used", "not-running")
        } <= set(fra)
    assert fra["fra-node0-home-used"].inputs["threshold"] == 85
    down = fra["fra-node0-not-running"].inputs
    assert (down["evaluationPeriods"] * down["period"], down["treatMissingData"]) == (300, "breaching")


def test_a_single_nginx_node_is_watched_through_its_own_status(run):
    syd = alarms_of(run, "syd")
    assert set(syd) == {f"syd-node0-{k}" for k in ("system-check", "instance-check", "home-used", "not-running")}


def test_actions_notify_the_sites_topic_and_recovery_names_the_nodes_region(run):
    created = run.outputs["alarmTopics"]
    assert set(created) == {"eu-central-1"}  # syd brings its own topic
    topics = {"fra": created["eu-central-1"], "syd": SYD_TOPIC}
    for site, region in REGIONS.items():
        for alarm in alarms_of(run, site).values():
            assert alarm.inputs["region"] == region
            assert topics[site] in alarm.inputs["alarmActions"] and alarm.inputs["okActions"] == [topics[site]]
            if alarm.name.endswith("system-check"):
                assert alarm.inputs["alarmActions"][0] == f"arn:aws:automate:{region}:ec2:recover"
            else:
                assert not any(":automate:" in a for a in alarm.inputs["alarmActions"])
    subscription = run.one(SUBSCRIPTION)
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == ("email", "mirror-oncall@example.com")
    assert run.one(TOPIC).inputs["region"] == "eu-central-1"


def test_no_alarm_of_one_site_watches_another_sites_resources(run):
    for site in REGIONS:
        instances = {r.id for r in run.of_type(INSTANCE) if r.name.startswith(f"{site}-")}
        groups = {r.outputs["arnSuffix"] for r in run.of_type(TARGET_GROUP) if r.name.startswith(f"{site}-")}
        balancers = {r.outputs["arnSuffix"] for r in run.of_type(NLB) if r.name.startswith(f"{site}-")}
        for alarm in alarms_of(run, site).values():
            dims = alarm.inputs["dimensions"]
            if "InstanceId" in dims:
                assert dims["InstanceId"] in instances
            if "TargetGroup" in dims:
                assert dims["TargetGroup"] in groups and dims["LoadBalancer"] in balancers
            if "Site" in dims:
                assert dims["Site"] == site and dims["Node"].startswith(f"{site}-node")


def test_the_node_role_may_publish_metrics_in_one_namespace_only(run):
    document = json.loads(metrics_policy())
    assert document["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "BitbucketMirrors"}},
        }
    ]
    findings = parliament.analyze_policy_string(metrics_policy()).findings
    assert [f.issue for f in findings] == []
    policies = [p for p in run.of_type(ROLE_POLICY) if p.name.endswith("-put-metrics")]
    roles = {r.id: r.name for r in run.of_type(ROLE)}
    assert sorted(roles[p.inputs["role"]] for p in policies) == sorted(
        f"{n}-role" for n in ("fra-node0", "fra-node1", "fra-node2", "syd-node0")
    )
    assert all(p.inputs["policy"] == metrics_policy() for p in policies)


def test_parliament_would_flag_a_wider_statement():
    # The lint has teeth: a statement with a wildcard action is reported.
    wide = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudwatch:Put*", "Resource": "*"}]}
    )
    assert parliament.analyze_policy_string(wide).findings


def test_each_node_gets_the_publisher_after_its_install(run):
    commands = {c.name: c for c in run.of_type(COMMAND)}
    for node in ("fra-node0", "fra-node1", "fra-node2", "syd-node0"):
        publisher = commands[f"{node}-metrics"]
        assert "systemctl enable --now bitbucket-mirror-metrics.timer" in publisher.inputs["create"]
        assert run.depends_on(publisher, commands[f"{node}-install"])
        assert (
            unwrap_secret(publisher.inputs["connection"])["hostKey"]
            == unwrap_secret(commands[f"{node}-install"].inputs["connection"])["hostKey"]
        )


def test_the_jmx_exporter_runs_where_asked_and_is_reachable_only_from_metrics_cidrs(run):
    rules = [r for r in run.of_type(INGRESS) if r.inputs["fromPort"] == 9404]
    assert [(r.name, r.inputs["cidrIpv4"]) for r in rules] == [("fra-nodes-in-metrics-0", "10.9.0.0/16")]
    from tests.components.test_program import staged_files

    fra = staged_files(run, "fra-node0-stage")
    assert (
        "JVM_SUPPORT_RECOMMENDED_ARGS=-javaagent:/opt/atlassian/bitbucket/jmx/jmx_prometheus_javaagent-1.6.0.jar=9404:"
        in fra["atlbitbucket.service"]
    )
    assert "JMX_EXPORTER=1" in fra["install.sh"]
    assert "JMX_SHA256=a95983fd96e865d2bcdf911cc500e7c82808c27ab9fd226bf96732b6c3d8c46e" in fra["install.sh"]
    syd = staged_files(run, "syd-node0-stage")
    assert "javaagent" not in syd["atlbitbucket.service"] and "JMX_EXPORTER=0" in syd["install.sh"]


@pytest.mark.parametrize("stack", ["farm-3", "single-nginx", "two-sites"])
def test_adding_monitoring_changes_nothing_that_exists(stack):
    before = run_program(STACKS / f"{stack}.yaml")
    config, secret_keys = stack_file_config(STACKS / f"{stack}.yaml")
    config["bitbucket-mirrors:monitoring"] = json.dumps({"emails": ["ops@example.com"]})
    after = run_program(config=config, secret_keys=secret_keys)
    old = {r.urn: r.inputs for r in before.resources}
    changed = [r.name for r in after.resources if r.urn in old and r.inputs != old[r.urn]]
    assert changed == []
    added = {r.typ for r in after.resources if r.urn not in old}
    assert ALARM in added
    assert not added & {INSTANCE, VOLUME, ATTACHMENT}


# What each alarm means, as an operator reads it: (namespace, metric, statistic, comparison,
# threshold, evaluation minutes, missing data). A flipped comparison fires on every healthy node.
EXPECTED = {
    "degraded": ("AWS/NetworkELB", "HealthyHostCount", "Minimum", "LessThanThreshold", 3, 3, "missing"),
    "down": ("AWS/NetworkELB", "HealthyHostCount", "Maximum", "LessThanThreshold", 1, 2, "breaching"),
    "system-check": (
        "AWS/EC2",
        "StatusCheckFailed_System",
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1,
        2,
        "missing",
    ),
    "instance-check": (
        "AWS/EC2",
        "StatusCheckFailed_Instance",
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1,
        3,
        "missing",
    ),
    "home-used": ("BitbucketMirrors", "HomeUsedPercent", "Maximum", "GreaterThanThreshold", 85, 5, "missing"),
    "not-running": ("BitbucketMirrors", "StatusRunning", "Maximum", "LessThanThreshold", 1, 5, "breaching"),
}


def test_every_alarm_means_what_its_name_says(run):
    seen = set()
    for alarm in run.of_type(ALARM):
        kind = next(k for k in EXPECTED if alarm.name.endswith(f"-{k}"))
        i = alarm.inputs
        assert (
            i["namespace"],
            i["metricName"],
            i["statistic"],
            i["comparisonOperator"],
            i["threshold"],
            i["evaluationPeriods"] * i["period"] // 60,
            i["treatMissingData"],
        ) == EXPECTED[kind], alarm.name
        seen.add(kind)
    assert seen == set(EXPECTED)


def test_statistics_and_comparisons_are_values_cloudwatch_knows(run):
    # botocore's validator does not check enums: compare with the model's lists directly.
    members = (
        botocore.session.get_session()
        .get_service_model("cloudwatch")
        .operation_model("PutMetricAlarm")
        .input_shape.members
    )
    for alarm in run.of_type(ALARM):
        assert alarm.inputs["statistic"] in members["Statistic"].enum
        assert alarm.inputs["comparisonOperator"] in members["ComparisonOperator"].enum
        # TreatMissingData is a plain string in the model; CloudWatch documents these four.
        assert alarm.inputs["treatMissingData"] in {"breaching", "notBreaching", "ignore", "missing"}


def test_each_node_publishes_under_the_dimensions_and_region_its_alarms_watch(run):
    from tests.components.test_program import staged_files

    for alarm in run.of_type(ALARM):
        if alarm.inputs["namespace"] != "BitbucketMirrors":
            continue
        node = alarm.inputs["dimensions"]["Node"]
        script = staged_files(run, f"{node}-metrics")["publish-metrics.sh"]
        assert f"REGION={alarm.inputs['region']}\n" in script
        assert f"SITE={alarm.inputs['dimensions']['Site']}\n" in script and f"NODE={node}\n" in script
        assert "NAMESPACE=BitbucketMirrors\n" in script


def test_a_removed_node_stops_its_publisher(run):
    for command in run.of_type(COMMAND):
        if command.name.endswith("-metrics"):
            assert command.inputs["delete"] == "sudo systemctl disable --now bitbucket-mirror-metrics.timer || true"


def test_a_single_node_behind_a_load_balancer_alarms_when_it_is_down_and_has_no_degraded_alarm():
    config, secret_keys = stack_file_config(STACKS / "single-acm.yaml")
    config["bitbucket-mirrors:monitoring"] = json.dumps({"emails": ["ops@example.com"]})
    names = {a.name for a in run_program(config=config, secret_keys=secret_keys).of_type(ALARM)}
    site = json.loads(config["bitbucket-mirrors:mirrors"])[0]["name"]
    assert {f"{site}-https-down", f"{site}-ssh-down"} <= names
    assert not [n for n in names if n.endswith("-degraded")]


def test_adding_a_subscriber_leaves_the_other_subscriptions_as_they_are(run):
    config, secret_keys = stack_file_config(STACKS / "monitored.yaml")
    config["bitbucket-mirrors:monitoring"] = json.dumps(
        {"emails": ["aardvark@example.com", "mirror-oncall@example.com"], "homeUsedPercentAlarm": 85}
    )
    after = run_program(config=config, secret_keys=secret_keys)
    subscription = SUBSCRIPTION
    before = {s.urn: s.inputs for s in run.of_type(subscription)}
    now = {s.urn: s.inputs for s in after.of_type(subscription)}
    assert before and all(now.get(urn) == inputs for urn, inputs in before.items())
    assert sorted(s["endpoint"] for s in now.values()) == ["aardvark@example.com", "mirror-oncall@example.com"]


def test_each_subscription_is_made_in_its_topics_region(run):
    topics = {t.id: t.inputs["region"] for t in run.of_type(TOPIC)}
    topics.update({t.outputs.get("arn"): t.inputs["region"] for t in run.of_type(TOPIC)})
    subscriptions = run.of_type(SUBSCRIPTION)
    assert subscriptions and all(
        s.inputs["region"] == topics[s.inputs["topic"]] == "eu-central-1" for s in subscriptions
    )


def test_each_alarm_topic_is_tagged_with_its_stack_as_every_other_resource_is(run):
    # The stack tag is how an admin (and the deployer policy's conditions) tell one stack's resources
    # from another's: it holds the stack's name ("test" under the harness), not the topic's.
    from components import tags as tagging

    topics = run.of_type(TOPIC)
    assert topics
    for topic in topics:
        assert topic.inputs["tags"][tagging.STACK] == "test", topic.inputs["tags"]
    instance = run.of_type(INSTANCE)[0]
    assert instance.inputs["tags"][tagging.STACK] == "test"
