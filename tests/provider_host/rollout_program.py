"""A Pulumi program that registers one farm's rollout steps, as components/rollout.py wires them,
against the emulator's mirror and a moto load balancer (from config): the window, each node's drain
and return, and the finish. Run under the mocks it yields what the SDK registers for the host."""

import pulumi

from providers.node_rollout import NodeDrain, NodeReturn, NodeTargetsArgs
from providers.upgrade import UpgradeFinish, UpgradeFinishArgs, UpgradeWindow, UpgradeWindowArgs

farm = pulumi.Config("hosttest").require_object("rollout")
window = UpgradeWindow(
    "fra-upgrade",
    UpgradeWindowArgs(
        mirror_url=farm["mirrorUrl"],
        version=farm["version"],
        version_key="mirrors[1].bitbucketVersion",
        farm=True,
        ca_bundle=farm["caBundle"],
        clustered=True,
        nodes=len(farm["nodes"]),
        warn_to=farm.get("warnTo"),
    ),
)
previous = [window]
for i, node in enumerate(farm["nodes"]):
    targets = NodeTargetsArgs(
        region=farm["region"],
        instance_id=node["instanceId"],
        target_groups=farm["targetGroups"],
        install_digest=f"{farm['version']}-{i}",
        node=f"fra-node{i}",
        timeout_s=30,
        mirror_url=farm["mirrorUrl"],
        address=node["address"],
        version=farm["version"],
        farm=True,
        ca_bundle=farm["caBundle"],
        nodes=len(farm["nodes"]),
    )
    drain = NodeDrain(f"fra-node{i}-drain", targets, opts=pulumi.ResourceOptions(depends_on=previous))
    previous = [NodeReturn(f"fra-node{i}-return", targets, opts=pulumi.ResourceOptions(depends_on=[drain]))]
UpgradeFinish(
    "fra-upgrade-finish",
    UpgradeFinishArgs(
        mirror_url=farm["mirrorUrl"],
        version=farm["version"],
        kind=window.kind,
        farm=True,
        ca_bundle=farm["caBundle"],
        zdu_started=window.zdu_started,
    ),
    opts=pulumi.ResourceOptions(depends_on=previous),
)
