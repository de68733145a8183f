"""The tag keys this project writes on AWS resources, and the one way a lookup by tags is asked of EC2.

The components write these keys (components/tags.py builds each resource's tags from them) and the
providers find resources by them: a node's instance where its id cannot be an input (the drain before
an instance changes), a home's snapshots (a backup, a restore, a refused downgrade). A key renamed here
is renamed for every writer and every reader at once; a key changed on a running stack leaves its
resources untagged by the new key until the next `up` retags them, and snapshots taken before keep the
old key (a restore would not find them).
"""

from __future__ import annotations

SITE = "bitbucket-mirrors:site"
STACK = "bitbucket-mirrors:stack"
FARM = "bitbucket-mirrors:farm"  # a farm's nodes discover each other by it (Hazelcast's AWS discovery)
NAME = "Name"  # AWS's own: the console shows it
# A home's snapshot (providers/backup.py writes them; a restore and a refused downgrade read them).
NODE = "bitbucket-mirrors:node"
HOLDS = "bitbucket-mirrors:version"  # the Bitbucket version the home held
GENERATION = "bitbucket-mirrors:generation"  # the mirror generation the home belonged to
BEFORE = "bitbucket-mirrors:before"  # the change it was taken before (a retry finds it)
SNAPSHOT_KEYS = {"node": NODE, "version": HOLDS, "generation": GENERATION, "before": BEFORE}


def tag_filters(tags: dict[str, str]) -> list[dict]:
    """EC2's Filters that match what carries every one of these tags (boto3's spelling; sorted, so a
    lookup asks the same question every time). A component's data source takes the same name and
    values: `aws.ebs.GetSnapshotIdsFilterArgs(name=f["Name"], values=f["Values"])`."""
    return [{"Name": f"tag:{key}", "Values": [value]} for key, value in sorted(tags.items())]
