"""README's "Operating a farm" table, generated from the twin's scenarios.

Each row names the scenarios it speaks for; its "clients notice" column is written from what those
scenarios measured (the fewest nodes serving, the modelled seconds with none, the modelled wall
time of the `up`), so the column cannot claim what the twin did not see.

    venv/bin/python -m twin.readme            # rewrite the table in README.md
    venv/bin/python -m twin.readme --check    # exit non-zero when it is stale
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

BEGIN = "<!-- operating-a-farm:begin (generated from the twin: `venv/bin/python -m twin.readme`) -->"
END = "<!-- operating-a-farm:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


@dataclass(frozen=True)
class Row:
    """One row of README's "Operating a farm" table: the change, what happens, and the scenarios whose
    reports fill its "clients notice" column."""

    change: str
    happens: str
    scenarios: tuple[str, ...]
    # Which `up` the row speaks of: AFTER's (None), or the n-th of the scenario's further ups.
    then: int | None = None


ROWS = (
    Row(
        "`bitbucketVersion`, bug-fix (9.4.16 -> 9.4.17), a farm",
        "every node checks the new version's Java/Git/OpenSSH and downloads it first; every home is snapshotted (EBS, "
        "`backup`); upgrade mode on (`zdu/start`); "
        "then one node at a time: drained from the load balancer (it leaves once it has served no clone for 10 s, at "
        "most after the 300 s deregistration delay), installed, back once healthy and listed by the farm on the new "
        "version; upgrade mode off (`zdu/end`)",
        ("farm2-bugfix", "farm3-bugfix"),
    ),
    Row(
        "`bitbucketVersion`, minor or major (9.4 -> 9.5), a farm",
        "every node checks and downloads the new version first; every home is snapshotted; node 0 is drained, then "
        "every node stops (nodes of two "
        "minor lines cannot form one cluster), node 0 upgrades and serves alone, then the others one at a time",
        ("farm2-minor", "farm3-minor"),
    ),
    Row(
        "`bitbucketVersion`, any upgrade of a single node",
        "the node checks and downloads the new version, its home is snapshotted, then it restarts on it (it is not "
        "drained: no other node takes "
        "its clients, and the load balancer reaches it again the moment it answers)",
        ("single-bugfix", "single-minor", "nginx-bugfix"),
    ),
    Row(
        "`bitbucketVersion` lower than what the nodes run",
        "refused at preview, naming `mirrors[i].bitbucketVersion`, the version the nodes run (read from the mirror, "
        "not from the last config), `mirrors[i].restoreFrom` and the versions the site has snapshots of",
        ("single-downgrade", "farm3-downgrade"),
    ),
    Row(
        "`restoreFrom` and `bitbucketVersion` both set to a version the site's snapshots hold (after an upgrade)",
        "every node's home is replaced by a volume created from its newest snapshot of that version, all nodes at "
        "once (Bitbucket rolls only upgrades to a higher bug-fix version): Bitbucket stops and the home is unmounted, "
        "the restored home is attached, that version is installed; the mirror keeps its approval and catches up with "
        "the primary from what the snapshot held. Removing `restoreFrom` afterwards changes nothing",
        ("farm3-bugfix-restore", "single-bugfix-restore"),
        then=0,
    ),
    Row(
        "`nodes` up (1 -> 2, 2 -> 3)",
        "the new node is created, installed, and joins by AWS discovery (every site behind a load balancer is a farm, "
        "of one node or more); no other node's files change",
        ("single-scale-1-2", "farm2-scale-2-3"),
    ),
    Row(
        "`nodes` down (3 -> 2, 2 -> 1)",
        "the removed node is drained, Bitbucket is stopped on it, then its home is detached and its instance and "
        "volume go; the others are not touched",
        ("farm3-scale-3-2", "farm2-scale-2-1"),
    ),
    Row(
        "`instanceType`, a farm",
        "one node at a time, one drain each: drained, EC2 stops it, changes the type and starts it, back once "
        "healthy and in the farm (without a bastion the next `up` records the nodes' new public addresses, "
        "running nothing on them)",
        ("farm2-instance-type", "farm3-instance-type"),
    ),
    Row(
        "`instanceType`, a single node",
        "EC2 stops the instance, changes the type and starts it; Bitbucket starts with it",
        ("single-instance-type", "nginx-instance-type"),
    ),
    Row(
        "`instanceType` and a bug-fix `bitbucketVersion` in one `up`",
        "one drain per node: drained, its type changed (stop, modify, start), upgraded, back once healthy and in "
        "the farm; then the next node",
        ("farm2-instance-type-and-bugfix", "farm3-instance-type-and-bugfix"),
    ),
    Row(
        "a new release of this project whose boot configuration (user data) changed",
        "like an instance type change: each node in turn is drained, stopped, given the new user data and started "
        "(cloud-init runs bootcmd on every boot), never replaced",
        ("single-user-data", "farm3-user-data"),
    ),
    Row(
        "`homeVolumeGb` up",
        "EBS grows each home volume in place, then `xfs_growfs` grows its filesystem online",
        ("single-home-grow", "farm3-home-grow"),
    ),
    Row(
        "`displayName`, `baseUrl`, `primary.url`, `mirrorAll: true -> false`",
        "a new mirror, as Bitbucket requires: every home is snapshotted, node 0 is drained, every node stops, its home "
        "is emptied, node 0 starts "
        "as the new mirror, which is approved while the old one is removed from the primary; the others join. Clients "
        "reach the new mirror once node 0 is back, with what it has synchronised so far (from scratch)",
        (
            "single-display-name",
            "nginx-display-name",
            "farm3-display-name",
            "farm3-base-url",
            "farm3-primary-url",
            "farm3-mirror-all-off",
        ),
    ),
    Row(
        "`mirrorAll` back to false after false -> true, or `displayName` back after A -> B",
        "each way back is a new mirror again (homes emptied, approved anew), never an earlier one; the next `up` "
        "changes nothing",
        ("farm3-mirror-all-round-trip", "single-display-name-round-trip"),
        then=0,
    ),
    Row(
        "`kmsKeyArn` (another key, or one set for the first time)",
        "a new mirror on new nodes: EBS cannot re-encrypt a volume, so node by node a new instance (its root volume "
        "under the key) and a new, empty home are made; each old home is released (Bitbucket stopped, the home "
        "unmounted and detached), snapshotted, and deleted with its old instance at the end of the `up`; node 0 starts "
        "as the new mirror, which is approved while the old one is removed from the primary; the others join",
        ("farm3-kms-key",),
    ),
    Row(
        "`mirrorAll: false -> true`, `projects`",
        "the mirror's project selection changes in place",
        ("farm3-mirror-all-on", "farm3-projects"),
    ),
    Row(
        "`osImage` (a new label such as `refresh: 2026-12`, or an AMI id), a farm",
        "one node at a time: drained, EC2 replaces its root volume from the image (CreateReplaceRootVolumeTask: the "
        "instance, its addresses and its home stay; it reboots), Bitbucket is installed again, back once healthy "
        "and in "
        "the farm",
        ("farm3-os-image", "farm3-os-image-pinned"),
    ),
    Row(
        "`nodes` together with a bug-fix `bitbucketVersion`, `osImage` or `instanceType` in one `up` (scaling out; "
        "scaling in with `osImage` or `instanceType`)",
        "scaling out: the new nodes are created on the new version, image or type while the others change one at a "
        "time as they would alone; scaling in: the staying nodes change one at a time, then the leaving ones are "
        "drained, retired and deleted",
        (
            "farm2-scale-out-and-bugfix",
            "farm2-scale-out-and-os-image",
            "farm2-scale-out-and-instance-type",
            "farm3-scale-in-and-instance-type",
            "farm3-scale-in-and-os-image",
        ),
    ),
    Row(
        "`nodes` up together with a minor `bitbucketVersion`, or from one node with any `bitbucketVersion`, in one "
        "`up`",
        "as the upgrade alone on the nodes there were (a minor one: every node stops; one node: it restarts on the new "
        "version), the new nodes created on the new version and serving after node 0; said at preview (scaling out "
        "first, then upgrading, keeps a farm serving)",
        ("farm2-scale-out-and-minor", "single-scale-1-2-and-bugfix"),
    ),
    Row(
        "`nodes` down together with a `bitbucketVersion` or a new mirror (`displayName`, `baseUrl`, `primary.url`, "
        "`mirrorAll: true -> false`, `kmsKeyArn`) in one `up`",
        "refused at preview, naming both keys and the order: first `nodes` alone, then the other change (the engine "
        "deletes leaving nodes only after every update, so they would still run the old version or mirror in the "
        "farm while the others change)",
        (
            "farm3-scale-in-and-bugfix",
            "farm3-scale-in-and-minor",
            "farm3-scale-in-and-display-name",
            "farm3-scale-in-and-kms-key",
        ),
    ),
    Row(
        "an entry removed from `mirrors` (a whole site)",
        "its approval and project selection are removed from the primary, its load balancer and DNS go (its node is "
        "then not drained: nothing routes to it), Bitbucket is stopped and the home unmounted on each node while its "
        "SSH and egress rules still stand, then its instances, volumes, keys and groups are deleted; nothing is left "
        "in AWS. The other sites are not touched",
        ("site-removed",),
    ),
    Row(
        "an `up` killed part-way through a rollout (Ctrl-C, a lost CI runner), bug-fix then minor",
        "what finished stays finished (the state records each completed step): a bug-fix rollout leaves the farm "
        "serving on all nodes but the one it was changing, in upgrade mode; a minor one may leave no node serving "
        "until the next `up`, which resumes where it stopped and changes no finished node again (an instance "
        "whose launch was cut off is terminated by its node's drain)",
        ("farm3-bugfix-killed-mid-rollout", "farm3-minor-killed-mid-rollout"),
    ),
    Row(
        "`osImage`, a single node",
        "its root volume is replaced from the image and Bitbucket installed again",
        ("single-os-image",),
    ),
)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def clients_notice(reports: dict[str, dict[str, Any]], row: Row) -> str:
    """The column's text, from the scenarios' reports: clones that failed first, then nodes serving."""
    found = [(name, reports[name] if row.then is None else reports[name]["then"][row.then]) for name in row.scenarios]
    if all(r.get("refused_at_preview") for _, r in found):
        return "nothing happens: refused at preview"
    parts, outages, failed_any = [], [], False
    for name, report in found:
        (site,) = report["sites"].values()
        nodes, least, outage = site["nodes"], site["min_serving"], site["outage_s"]
        clones = site["clones"]
        failed_any = failed_any or clones["failed"] > 0
        said = f"{name}: {clones['failed']} of {clones['started']} clones failed, "
        if outage > 0:
            outages.append(outage)
            parts.append(said + f"none serves for {_minutes(outage)} of {_minutes(report['modelled_wall_s'])}")
        else:
            parts.append(
                said + f"at least {least} of {nodes} serving throughout, {_minutes(report['modelled_wall_s'])}"
            )
    if outages:
        verdict = f"**yes**, for {_minutes(max(outages))} at most"
    elif failed_any:
        verdict = "**yes**: clones under way are cut"
    else:
        verdict = "no"
    return f"{verdict} ({'; '.join(parts)})"


FIRST_UPS = ("single-bugfix", "farm3-bugfix")  # whose first `up` creates a single node, and a 3-node farm


def first_ups(reports: dict[str, dict[str, Any]]) -> str:
    (single,) = reports[FIRST_UPS[0]]["first_up"]["sites"].values()
    (farm,) = reports[FIRST_UPS[1]]["first_up"]["sites"].values()
    return (
        f"A new site's first `up`: a single node serves clients after {_minutes(single['serving_from_s'])} "
        f"(the `up` takes {_minutes(single['modelled_wall_s'])}), a 3-node farm after "
        f"{_minutes(farm['serving_from_s'])}, {farm['serving_from_s'] / single['serving_from_s']:.2f}x as long: its "
        f"first node serves, and is approved, while the others join one after another (the whole `up` takes "
        f"{_minutes(farm['modelled_wall_s'])})."
    )


def table(reports: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| change | what happens | clients notice (twin: scenario, clones failed, nodes serving, modelled time) |",
        "|---|---|---|",
    ]
    for row in ROWS:
        lines.append(f"| {row.change} | {row.happens} | {clients_notice(reports, row)} |")
    return "\n".join(lines) + "\n\n" + first_ups(reports)


def synced(text: str, reports: dict[str, dict[str, Any]]) -> str:
    block = f"{BEGIN}\n{table(reports)}\n{END}"
    return re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)


def scenario_names() -> list[str]:
    return sorted({name for row in ROWS for name in row.scenarios} | set(FIRST_UPS))


def main(argv: list[str], run: Callable[[str], dict[str, Any]]) -> int:
    reports = {name: run(name) for name in scenario_names()}
    current = README.read_text()
    wanted = synced(current, reports)
    if "--check" in argv:
        if wanted != current:
            print(
                "README's 'Operating a farm' table is stale: run `venv/bin/python -m twin.readme`",
                file=sys.stderr,
            )
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    from .scenarios import SCENARIOS, run_scenario

    sys.exit(main(sys.argv[1:], lambda name: run_scenario(SCENARIOS[name])))
