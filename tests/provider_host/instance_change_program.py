"""A Pulumi program that registers one farm's instance-change steps, as components/rollout.py wires
them (each node's drain before its instance changes, its return after; the next node after the
previous one's return), against the emulator's mirror and a moto load balancer (from config)."""

import pulumi

from providers.node_rollout import InstanceChangeArgs, InstanceStartReturn, InstanceStopDrain

farm = pulumi.Config("hosttest").require_object("rollout")
previous: list = []
for i, node in enumerate(farm["nodes"]):
    common = dict(
        region=farm["region"],
        target_groups=farm["targetGroups"],
        node=f"fra-node{i}",
        instance_type=farm["instanceType"],
        timeout_s=30,
        nodes=len(farm["nodes"]),
    )
    leave = InstanceStopDrain(
        f"fra-node{i}-stop-drain",
        InstanceChangeArgs(**common, instance_tags={"Name": f"fra-node{i}", "bitbucket-mirrors:site": "fra"}),
        opts=pulumi.ResourceOptions(depends_on=previous),
    )
    previous = [
        InstanceStartReturn(
            f"fra-node{i}-start-return",
            InstanceChangeArgs(
                **common,
                instance_id=node["instanceId"],
                mirror_url=farm["mirrorUrl"],
                address=node["address"],
                farm=True,
                ca_bundle=farm["caBundle"],
            ),
            opts=pulumi.ResourceOptions(depends_on=[leave]),
        )
    ]
