"""A node's orphan instances: what an `up` killed while it created the node's instance leaves running.

Pulumi records a create as a pending CREATE in the checkpoint before it calls the provider, and the
resource only once the provider answers (pulumi/pulumi pkg/backend/snapshot.go, doCreate). An `up`
killed in between (a lost CI runner, a second Ctrl-C) leaves EC2 running an instance that no state
holds; the next `up` creates the node's instance again and, non-interactively, only warns about the
pending CREATE (pkg/resource/deploy/deployment_executor.go, printPendingOperationsWarning). The
orphan would keep the node's tags, role and host key, and its cost, for ever: the node's drain
(providers/node_rollout.py) asks this module to end it once the node's new instance exists.

The guards: an instance is ended only when it carries every one of the node's tags (its stack,
site and name, so never another stack's, site's or node's) in the node's region, and is neither
the node's current instance nor the one it replaces. The deployer's policy allows
ec2:TerminateInstances only on instances with the stack tag (docs/deployer-policy.json).
"""

from __future__ import annotations

from typing import Iterable

from facts.tags import NAME, SITE, STACK, tag_filters

from . import clock
from .errors import RolloutError
from .messages import say
from .targets import ec2

# The tags that make the lookup one node's: without any of them it would find other nodes too.
REQUIRED = (STACK, SITE, NAME)
# Every state but `terminated`: an orphan already shutting down is waited for, not ended again.
ALIVE = ["pending", "running", "shutting-down", "stopping", "stopped"]


def _checked(tags: dict[str, str], keep: Iterable[str]) -> set[str]:
    for key in REQUIRED:
        if not (tags or {}).get(key):
            raise RolloutError(
                f"no orphan instance is looked for without the node's tag {key!r} (got {sorted(tags or {})}): "
                f"the lookup needs {', '.join(REQUIRED)} to find one node's instances and no other's"
            )
    kept = {i for i in keep if i}
    if not kept:
        raise RolloutError("no orphan instance is looked for without the node's current instance id")
    return kept


def node_instances(region: str, tags: dict[str, str]) -> list[str]:
    """The instances (not terminated) that carry every one of `tags`, as EC2 answers and checked
    again on each instance's own tags."""
    filters = tag_filters(tags) + [{"Name": "instance-state-name", "Values": ALIVE}]
    pages = ec2(region).get_paginator("describe_instances").paginate(Filters=filters)
    found = []
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                carried = {t["Key"]: t["Value"] for t in instance.get("Tags") or []}
                if all(carried.get(k) == v for k, v in tags.items()):
                    found.append(instance["InstanceId"])
    return sorted(found)


def remove_orphans(
    region: str,
    tags: dict[str, str],
    keep: Iterable[str],
    node: str,
    timeout_s: float = 600,
    poll_s: float = 5.0,
    progress_s: float = 30.0,
) -> list[str]:
    """Terminates the node's instances other than `keep` (its current one, the one it replaces) and
    waits until EC2 says they are terminated; returns their ids. Safe to repeat: a second run finds
    none."""
    kept = _checked(tags, keep)
    orphans = [i for i in node_instances(region, tags) if i not in kept]
    if not orphans:
        return []
    shown = ", ".join(orphans)
    say(
        f"{node}: terminating {shown}, launched for it by an `up` that was stopped before it recorded "
        f"the instance (the node runs on {', '.join(sorted(kept))})"
    )
    client = ec2(region)
    client.terminate_instances(InstanceIds=orphans)

    def gone():
        left = client.describe_instances(
            Filters=[
                {"Name": "instance-id", "Values": orphans},
                {"Name": "instance-state-name", "Values": ALIVE},
            ]
        )
        alive = sorted(i["InstanceId"] for r in left["Reservations"] for i in r["Instances"])
        return clock.NotYet(alive) if alive else orphans

    clock.poll_until(
        clock.Deadline(timeout_s),
        gone,
        every=poll_s,
        timed_out=lambda alive: RolloutError(
            f"{node}: {', '.join(alive or orphans)} not terminated within {timeout_s:.0f}s; "
            "check them in the EC2 console and run `pulumi up` again"
        ),
        progress=lambda alive: say(f"{node}: waiting for {', '.join(alive or orphans)} to terminate"),
        progress_every=progress_s,
    )
    say(f"{node}: {shown} terminated")
    return orphans
