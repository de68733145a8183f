"""A Pulumi program that registers one farm's instance-change steps, as components/rollout.py wires
them (each node's drain, then its InstanceModification, then its return; the next node after the
previous one's return), against the emulator's mirror and a moto load balancer (from config)."""

import pulumi

from providers.instance_change import InstanceModification, InstanceModificationArgs, digest_of
from providers.node_rollout import NodeDrain, NodeReturn, NodeTargetsArgs

farm = pulumi.Config("hosttest").require_object("rollout")
previous: list = []
for i, node in enumerate(farm["nodes"]):
    targets = NodeTargetsArgs(
        region=farm["region"],
        instance_id=node["instanceId"],
        target_groups=farm["targetGroups"],
        install_digest="unchanged",
        node=f"fra-node{i}",
        timeout_s=30,
        mirror_url=farm["mirrorUrl"],
        address=node["address"],
        farm=True,
        ca_bundle=farm["caBundle"],
        nodes=len(farm["nodes"]),
        instance_type=farm["instanceType"],
        user_data_digest=digest_of(""),  # moto's instances boot with none
    )
    drain = NodeDrain(f"fra-node{i}-drain", targets, opts=pulumi.ResourceOptions(depends_on=previous))
    change = InstanceModification(
        f"fra-node{i}-instance-change",
        InstanceModificationArgs(
            region=farm["region"],
            instance_id=node["instanceId"],
            instance_type=farm["instanceType"],
            user_data="",
            user_data_digest=digest_of(""),
            node=f"fra-node{i}",
            timeout_s=30,
            address=node["address"],
        ),
        opts=pulumi.ResourceOptions(depends_on=[drain]),
    )
    previous = [NodeReturn(f"fra-node{i}-return", targets, opts=pulumi.ResourceOptions(depends_on=[change]))]
