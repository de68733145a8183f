"""A site's version change: `UpgradeWindow` before any node changes, `UpgradeFinish` after the last.

- `UpgradeWindow` reads the versions the nodes really run (through the base URL: the farm's
  `farmNodes`, a single node's `application-properties`), refuses a downgrade at preview naming the
  config key, says at preview what clients will notice, and for a bug-fix upgrade of a farm turns
  upgrade mode on (`zdu/start`). `installed` is what the nodes run, never what was last configured:
  after a failed upgrade in which no node changed, going back to the running version is no downgrade.
- `UpgradeFinish` turns upgrade mode off (`zdu/end`) once every node runs one version, whenever
  this tool turned it on (`zdu_started`, carried by the window until the finish has ended it), so a
  rollout that failed part-way never leaves a farm in upgrade mode for good, whatever later `up`s
  configure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, Resource, UpdateResult

from . import combined, mirror_api, versions
from .base import StepProvider, inputs_of, is_unknown
from .errors import ProviderError
from .messages import say, warn

RESTORE = "restore"  # the window's kind for a way back (components/restore.py)


@dataclass
class UpgradeWindowArgs:
    """What a site's version change is read from and decided by, before any node changes."""

    # The mirror's base URL: where the versions the nodes run are read, and upgrade mode turned on.
    # A change is an update (the window is read again), never a replacement.
    mirror_url: pulumi.Input[str]
    # The configured Bitbucket version: a change is an update that decides the kind of change
    # (install, bug-fix, feature, a way back) against what the nodes run; older is refused at check.
    version: pulumi.Input[str]
    # The config key the user writes (mirrors[0].version), named in messages; it decides nothing.
    version_key: str
    # More than one node: a bug-fix upgrade can roll in upgrade mode instead of stopping the mirror.
    # A change is an update.
    farm: bool
    # A PEM bundle trusted for the mirror's certificate besides the system's (None: the system's).
    ca_bundle: Optional[pulumi.Input[str]] = None
    # The nodes form a farm (farmNodes lists them): how the running versions are read.
    clustered: bool = False
    # The site's node count; it decides nothing here (recorded for the rollout's messages).
    nodes: int = 1
    # The URN of the site the preview's warnings are attributed to; it decides nothing.
    warn_to: Optional[str] = None
    # mirrors[].restoreFrom: going back to this version by restoring the homes from its snapshots;
    # set to the configured version, a downgrade is a way back instead of a refusal.
    restore_from: Optional[str] = None
    # The config key of restore_from, named in refusals; it decides nothing.
    restore_key: str = "mirrors[?].restoreFrom"
    # Where the site's snapshots are (region) and how they are tagged (components/tags.py): for the
    # refusal's list and the restore's check that every node has one. They decide nothing else.
    region: Optional[str] = None
    snapshot_tags: Optional[dict[str, str]] = None
    snapshot_keys: Optional[dict[str, str]] = None
    # The site's node names: a restore needs a snapshot of the version for each.
    node_names: Optional[list[str]] = None
    # MirrorGeneration.generation: a new one is a rebuild, which a scale-in cannot go with.
    generation: Optional[pulumi.Input[str]] = None


def upgrade_impact(installed: list[str], configured: str, farm_: bool, key: str) -> Optional[str]:
    """What clients will notice of this version change, said at preview (None: nothing changes)."""
    kind = versions.upgrade_kind(installed, configured)
    was = ", ".join(installed)
    if kind == versions.BUGFIX and farm_:
        return (
            f"{key}: {was} -> {configured} is a bug-fix upgrade: the farm upgrades one node at a time in "
            "upgrade mode and keeps serving"
        )
    if kind == versions.BUGFIX:
        return (
            f"{key}: {was} -> {configured}: the node upgrades in place; the mirror is unavailable until "
            f"Bitbucket runs {configured}"
        )
    if kind == versions.FEATURE:
        who = "every node stops" if farm_ else "the node upgrades in place"
        return f"{key}: {was} -> {configured}: {who}; the mirror is unavailable until Bitbucket runs {configured}" + (
            " on the first node (only bug-fix upgrades can roll)" if farm_ else ""
        )
    return None


class UpgradeWindowProvider(StepProvider):
    """Before any node changes version (module docstring).

    - check: a new site reads nothing. Otherwise reads the versions the nodes run (the last reading
      when none answers), refuses a downgrade (unless it is a way back with a snapshot of the version
      for every node, listed otherwise) and says at preview what clients will notice.
    - diff / read: StepProvider's: version, farm and mirror_url make an update; nothing forces a
      replacement; read keeps the state.
    - create: a new site installs: nothing is called.
    - update: a bug-fix upgrade of a farm turns upgrade mode on (zdu/start) and records a new
      `zdu_started` token for UpgradeFinish; other kinds are recorded (a feature upgrade said).
    - delete: the SDK's default: nothing is called (a farm left in upgrade mode is UpgradeFinish's to
      end); safe to repeat.
    """

    decided_by = ("version", "farm", "mirror_url")

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        configured, key = news.get("version"), news.get("version_key")
        if self.url_failures(news):
            return CheckResult(news, self.url_failures(news))
        if not olds or is_unknown(configured):
            return CheckResult({**news, "installed": [], "impact": None}, [])
        installed = self.read_installed(news)
        if installed is None:  # nothing answers (every node stopped) or no credentials: the last reading
            installed = list(olds.get("installed") or ([olds["version"]] if olds.get("version") else []))
        kind = versions.upgrade_kind(installed, configured)
        restoring = bool(news.get("restore_from")) and news.get("restore_from") == configured
        listed = None if restoring else self.read_listed(news)
        if not restoring:
            refused = combined.scale_in_with_upgrade(installed, listed, news) or combined.scale_in_with_rebuild(
                listed, olds, news
            )
            if refused is not None:
                return CheckResult(news, [refused])
        if kind == versions.DOWNGRADE and not restoring:
            return CheckResult(
                news,
                [
                    CheckFailure(
                        "version",
                        (
                            f"{key}: {configured} is older than {versions.newest(installed)}, which the nodes run; "
                            "Bitbucket "
                            f"cannot be downgraded in place. Set it to {versions.newest(installed)} (or newer), or "
                            "go back to a "
                            f"version whose snapshots exist by setting {news.get('restore_key')} to it as well: "
                            f"{self.snapshots_said(news)}"
                        ),
                    )
                ],
            )
        if restoring:
            return self._check_restore(news, installed, kind)
        impact = upgrade_impact(installed, str(configured), bool(news.get("farm")), str(key))
        self._announce(news, installed, listed, impact)
        return CheckResult({**news, "installed": installed, "impact": impact}, [])

    def _check_restore(self, news: dict[str, Any], installed: list[str], kind: str) -> CheckResult:
        """restoreFrom with bitbucketVersion: a way back to a version the snapshots hold."""
        configured = news.get("version")
        if kind not in (versions.DOWNGRADE, versions.NONE):
            return CheckResult(
                news,
                [
                    CheckFailure(
                        "restore_from",
                        (
                            f"{news.get('restore_key')}: {configured} is not older than "
                            f"{versions.newest(installed)}, which the "
                            f"nodes run: restoreFrom is a way back. Remove it to upgrade"
                        ),
                    )
                ],
            )
        if kind != versions.DOWNGRADE:
            impact = upgrade_impact(installed, str(configured), bool(news.get("farm")), str(news.get("version_key")))
            self._announce(news, installed, None, impact)
            return CheckResult({**news, "installed": installed, "impact": impact}, [])
        missing = self.missing_snapshots(news, str(configured))
        if missing:
            return CheckResult(
                news,
                [
                    CheckFailure(
                        "restore_from",
                        (f"{news.get('restore_key')}: {configured}: {missing}; {self.snapshots_said(news)}"),
                    )
                ],
            )
        # The vendor rolls bug-fix upgrades only ("you can only upgrade to a higher bug fix version"):
        # a way back never rolls.
        impact = (
            f"{news.get('restore_key')}: {', '.join(installed)} -> {configured}: every node's home is "
            f"restored from its newest snapshot of {configured} and {configured} installed, all nodes at "
            f"once (only upgrades to a higher bug-fix version can roll); the mirror is unavailable until "
            f"it runs {configured}, and serves what the snapshots held until it catches up with the primary"
        )
        warn(impact, news.get("warn_to"))
        return CheckResult({**news, "installed": installed, "impact": impact}, [])

    @staticmethod
    def _announce(news: dict[str, Any], installed: list[str], listed: Any, impact: Optional[str]) -> None:
        """What the upgrade costs clients: a warning under the site, or progress when a farm rolls."""
        rolls = versions.upgrade_kind(installed, news.get("version")) == versions.BUGFIX and bool(news.get("farm"))
        alone = combined.upgrade_from_one_node(installed, listed, news) if rolls else None
        if alone:  # a farm of one growing: nobody else serves while its node upgrades
            warn(alone, news.get("warn_to"))
        elif impact and rolls:
            say(impact)
        elif impact:  # clients will notice: a warning under the site
            warn(impact, news.get("warn_to"))

    def held(self, props: dict[str, Any]) -> dict[str, dict[str, str]]:
        from .backup import snapshots_held

        return snapshots_held(props["region"], dict(props["snapshot_tags"]), dict(props["snapshot_keys"]))

    def snapshots_said(self, props: dict[str, Any]) -> str:
        """Which versions this site has snapshots of, for a refusal (or why it cannot tell)."""
        if not (props.get("region") and props.get("snapshot_tags") and props.get("snapshot_keys")):
            return "this site takes no snapshots"
        try:
            held = self.held(props)
        except Exception as exc:  # noqa: BLE001 - said, never fatal: the refusal stands either way
            return f"the site's snapshots could not be listed ({type(exc).__name__}: {exc})"
        if not held:
            return "this site has no snapshots (mirrors[].backup takes them before every upgrade and rebuild)"
        return "snapshots exist of " + "; ".join(
            f"{version} ({', '.join(sorted(nodes))})" for version, nodes in sorted(held.items())
        )

    def missing_snapshots(self, props: dict[str, Any], version: str) -> Optional[str]:
        """Why a restore of `version` cannot go ahead (None: every node has a snapshot of it)."""
        try:
            held = self.held(props).get(version, {})
        except Exception as exc:  # noqa: BLE001 - a restore needs the list: without it, no restore
            return f"the site's snapshots could not be listed ({type(exc).__name__}: {exc})"
        missing = [n for n in props.get("node_names") or [] if n not in held]
        if missing:
            return f"no snapshot of {version} for {', '.join(missing)}"
        return None

    def read_installed(self, props: dict[str, Any]) -> Optional[list[str]]:
        """The versions the nodes serving now run (None: none answers, or no credentials at preview)."""
        try:
            with self.client(props["mirror_url"], props.get("ca_bundle")) as mirror:
                found = mirror_api.running_versions(mirror, bool(props.get("clustered") or props.get("farm")))
        except (ProviderError, ValueError) as exc:  # no credentials at preview; a URL the client refuses
            say(f"{props['mirror_url']}: could not read the versions its nodes run ({exc}); using the last known")
            return None
        return found or None

    def read_listed(self, props: dict[str, Any]) -> Optional[int]:
        """How many nodes the farm lists (None: not a farm, or it cannot be read)."""
        clustered = bool(props.get("clustered") or props.get("farm"))
        if not clustered:
            return None
        try:
            with self.client(props["mirror_url"], props.get("ca_bundle")) as mirror:
                return combined.nodes_listed(mirror, clustered)
        except (ProviderError, ValueError):
            return None

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(
            f"upgrade-window-{props['version']}", {**props, "kind": versions.INSTALL, "zdu_started": None}
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        installed = list(news.get("installed") or [])
        kind = versions.upgrade_kind(installed, news["version"])
        if kind == versions.DOWNGRADE and news.get("restore_from") == news["version"]:
            kind = RESTORE
        started = olds.get("zdu_started")
        if kind == versions.BUGFIX and news.get("farm"):
            with self.client(news["mirror_url"], news.get("ca_bundle")) as mirror:
                mirror_api.start_upgrade_mode(mirror)
            # A new token for each start: the finish ends upgrade mode once per start.
            count = int(str(started).split(":")[0]) + 1 if started else 1
            started = f"{count}:{news['version']}"
        elif kind == versions.FEATURE:
            say(
                f"{news['mirror_url']}: {', '.join(installed)} -> {news['version']} is not a bug-fix upgrade: "
                "every node stops; the mirror is unavailable until the nodes start on the new version"
            )
        return UpdateResult({**news, "kind": kind, "zdu_started": started})


class UpgradeWindow(Resource, module="bitbucket", name="UpgradeWindow"):
    """A site's version change before any node changes: `kind` of change, `zdu_started` when it turned
    upgrade mode on."""

    kind: pulumi.Output[str]
    zdu_started: pulumi.Output[Optional[str]]

    def __init__(self, name: str, args: UpgradeWindowArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(UpgradeWindowProvider(), name, {**inputs_of(args), "kind": None, "zdu_started": None}, opts)


@dataclass
class UpgradeFinishArgs:
    """What ends a site's version change, after its last node."""

    # The mirror's base URL, where upgrade mode is turned off; it decides nothing.
    mirror_url: pulumi.Input[str]
    # The configured version: a change is an update (which ends upgrade mode only if zdu_started changed).
    version: pulumi.Input[str]
    # UpgradeWindow.kind, for the record; it decides nothing.
    kind: pulumi.Input[str]
    # More than one node: only a farm is ever put in upgrade mode, so only a farm's is ended.
    farm: bool
    # A PEM bundle trusted for the mirror's certificate besides the system's (None: the system's).
    ca_bundle: Optional[pulumi.Input[str]] = None
    # UpgradeWindow.zdu_started: a new token (upgrade mode turned on) makes the finish end it.
    zdu_started: pulumi.Input[Optional[str]] = None


class UpgradeFinishProvider(StepProvider):
    """After a site's last node changed version (module docstring).

    - check / diff / read: StepProvider's: zdu_started and version make an update; nothing forces a
      replacement; read keeps the state.
    - create / update: when upgrade mode was turned on for a farm (a new `zdu_started`), turns it off
      (zdu/end), tried again while the nodes settle, until timeout_s: then a RolloutError that says
      what to check. Otherwise nothing is called.
    - delete: the SDK's default: nothing is called; safe to repeat.
    """

    decided_by = ("zdu_started", "version")
    timeout_s: float = 300.0
    pause_s: float = 10.0

    def create(self, props: dict[str, Any]) -> CreateResult:
        self.finish(props)
        return CreateResult(f"upgrade-finish-{props['version']}", dict(props))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if news.get("zdu_started") != olds.get("zdu_started"):
            self.finish(news)
        return UpdateResult(dict(news))

    def finish(self, props: dict[str, Any]) -> None:
        if props.get("zdu_started") and props.get("farm"):
            with self.client(props["mirror_url"], props.get("ca_bundle")) as mirror:
                mirror_api.end_upgrade_mode(mirror, self.timeout_s, self.pause_s)


class UpgradeFinish(Resource, module="bitbucket", name="UpgradeFinish"):
    """A site's version change after its last node: upgrade mode off when this tool turned it on."""

    def __init__(self, name: str, args: UpgradeFinishArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(UpgradeFinishProvider(), name, inputs_of(args), opts)
