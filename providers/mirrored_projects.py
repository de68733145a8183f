"""MirroredProjects: exactly the chosen projects on a mirror, or all of them (docs/bitbucket-facts.md §1).

Selection lives on the mirror's own REST API; keys resolve to the primary's project ids through
the paged project listing (a handful of requests for thousands of projects, never one per key).
Missing projects are added in one bulk call, extra ones removed. "Mirror all" cannot be undone
on a mirror, so turning it off replaces the resource, which replaces the mirror in turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from . import clock
from .answers import RestProject, RestSyncProgress, RestUpstreamSettings
from .base import BitbucketProvider, input_names, inputs_of, is_unknown, say
from .clock import Deadline, NotYet, poll_until

if TYPE_CHECKING:  # the client (requests) loads when a call needs it, not when the program does
    from .client import BitbucketClient
from facts.bitbucket import is_project_key

from .errors import IrreversibleChange, NotFound, ServerUnavailable, SyncTimeout, UnknownProjects, Unreachable

PROJECTS = "/rest/api/latest/projects"
SETTINGS = "/rest/mirroring/latest/syncSettings"
PROGRESS = "/rest/mirroring/latest/progress"
ALL, SELECTED = "ALL_PROJECTS", "SELECTED_PROJECTS"


@dataclass
class MirroredProjectsArgs:
    """Which projects a mirror mirrors, and whether `pulumi up` waits for their first sync."""

    # The primary's URL, where project keys resolve to ids: a change replaces the selection.
    primary_url: pulumi.Input[str]
    # The mirror's base URL, whose syncSettings hold the selection: a change replaces it.
    mirror_url: pulumi.Input[str]
    # The approved mirror's id (MirrorApproval.mirror_id, and this resource's id): a new mirror
    # replaces the selection (it starts empty).
    mirror_id: pulumi.Input[str]
    # The project keys to mirror (case-insensitive, kept sorted and upper-case): a change is an
    # update that adds the missing and removes the extra ones on the mirror.
    project_keys: pulumi.Input[list[str]] = field(default_factory=list)
    # Every project (no keys with it): false -> true is an update, true -> false a replacement (the
    # vendor: it cannot be undone on a mirror).
    mirror_all: pulumi.Input[bool] = False
    # Whether create and update wait until the mirror reports every repository synchronised; a change
    # is an update.
    wait_for_sync: pulumi.Input[bool] = False
    # How long that wait may take before SyncTimeout; a change is an update.
    sync_timeout_s: pulumi.Input[int] = 3600
    # A PEM bundle trusted for both servers' certificates besides the system's (None: the system's).
    ca_bundle: Optional[pulumi.Input[str]] = None
    # The config keys the timeout's message names (they decide nothing).
    sync_timeout_key: str = "mirrors[?].syncTimeoutS"
    wait_key: str = "mirrors[?].waitForSync"


def normalised_keys(keys: Any) -> list[str]:
    return sorted({str(k).upper() for k in (keys or [])})


class MirroredProjectsProvider(BitbucketProvider):
    """Exactly the chosen projects on a mirror, or all of them (module docstring).

    - check: project keys valid (normalised upper-case), not given with mirror_all; URLs plain https.
    - diff: a new mirror id, mirror URL or primary URL, or mirror_all true -> false, replaces it,
      delete before create; other changes (keys, mirror_all false -> true, the wait) are an update.
    - create / update: reconcile: the keys resolved on the primary (an unknown key: UnknownProjects,
      nothing changed), the missing projects added in one bulk call (read back, never replayed
      blindly, after an answer that was lost), the extra ones removed; then, with wait_for_sync, a
      wait for the first sync (progress every 30 s, SyncTimeout at the deadline).
    - read: the mirror's selection as it is (a mirror without an upstream: gone).
    - delete: removes the projects this resource selected (a mirror that mirrors all, or has no
      upstream any more, has nothing of ours to undo); safe to repeat.
    """

    url_inputs = ("primary_url", "mirror_url")
    poll_interval_s: float = 5.0
    progress_every_s: float = 30.0
    bulk_attempts: int = 5

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        keys = news.get("project_keys") or []
        if not is_unknown(keys):
            bad = [k for k in keys if not is_unknown(k) and not is_project_key(str(k))]
            if bad:
                failures.append(CheckFailure("project_keys", f"not Bitbucket project keys: {', '.join(map(str, bad))}"))
            else:
                news = {**news, "project_keys": normalised_keys(keys)}
            if news.get("mirror_all") is True and keys:
                failures.append(
                    CheckFailure("mirror_all", "mirror_all mirrors every project: give no project_keys with it")
                )
        return CheckResult(news, failures + self.url_failures(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [
            k
            for k in ("mirror_id", "mirror_url", "primary_url")
            if is_unknown(news.get(k)) or olds.get(k) != news.get(k)
        ]
        if olds.get("mirror_all") is True and news.get("mirror_all") is not True:
            replaces.append("mirror_all")  # the vendor: "mirror all" can never be undone on a mirror
        keys_changed = is_unknown(news.get("project_keys")) or normalised_keys(
            olds.get("project_keys")
        ) != normalised_keys(news.get("project_keys"))
        others = any(olds.get(k) != news.get(k) for k in ("mirror_all", "wait_for_sync", "sync_timeout_s", "ca_bundle"))
        return DiffResult(
            changes=bool(replaces) or keys_changed or others, replaces=replaces, delete_before_replace=True
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(str(props["mirror_id"]), self.reconcile(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self.reconcile(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with (
            self.client(props["primary_url"], props.get("ca_bundle")) as primary,
            self.client(props["mirror_url"], props.get("ca_bundle")) as mirror,
        ):
            try:
                settings = mirror.get(SETTINGS, expect=RestUpstreamSettings)
            except NotFound:
                return ReadResult(None, {})  # the mirror no longer has an upstream: gone
            ids = sorted(settings.projectIds, key=int)
            keys = []
            if settings.mode != ALL and ids:
                by_id = {str(p.id): p.key for p in primary.iter_paged(PROJECTS, item=RestProject)}
                keys = sorted(by_id.get(i, f"<deleted project {i}>") for i in ids)
            return ReadResult(
                id_,
                {**self._inputs(props), "project_keys": keys, "project_ids": ids, "mirror_all": settings.mode == ALL},
            )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if props.get("mirror_all"):
            return  # nothing of ours to undo: removing the mirror (MirrorApproval) ends it
        with self.client(props["mirror_url"], props.get("ca_bundle")) as mirror:
            for project_id in props.get("project_ids") or []:
                try:
                    mirror.delete(f"{SETTINGS}/projects/{project_id}")
                except NotFound:
                    return  # the mirror has no upstream any more: nothing is mirrored

    # --- reconciliation ---------------------------------------------------------------------
    def reconcile(self, props: dict[str, Any]) -> dict[str, Any]:
        with (
            self.client(props["primary_url"], props.get("ca_bundle")) as primary,
            self.client(props["mirror_url"], props.get("ca_bundle")) as mirror,
        ):
            if props.get("mirror_all"):
                if mirror.get(SETTINGS, expect=RestUpstreamSettings).mode != ALL:
                    mirror.put(f"{SETTINGS}/mode", ALL)
                    say(f"{props['mirror_url']} now mirrors every project")
                ids: list[str] = []
                keys: list[str] = []
            else:
                keys = normalised_keys(props.get("project_keys"))
                ids = self._select(primary, mirror, keys, props["mirror_url"])
            if props.get("wait_for_sync"):
                self.wait_for_sync(
                    mirror,
                    props["mirror_url"],
                    float(props.get("sync_timeout_s") or 3600),
                    props.get("sync_timeout_key") or "mirrors[?].syncTimeoutS",
                    props.get("wait_key") or "mirrors[?].waitForSync",
                )
            return {
                **self._inputs(props),
                "project_keys": keys,
                "project_ids": ids,
                "mirror_all": bool(props.get("mirror_all")),
            }

    def _select(self, primary: BitbucketClient, mirror: BitbucketClient, keys: list[str], mirror_url: str) -> list[str]:
        index = {p.key: str(p.id) for p in primary.iter_paged(PROJECTS, item=RestProject)} if keys else {}
        unknown = [k for k in keys if k not in index]
        if unknown:
            raise UnknownProjects(
                f"these project keys do not exist on the primary: {', '.join(unknown)}; "
                f"nothing was changed on {mirror_url}"
            )
        wanted = {index[k] for k in keys}
        settings = mirror.get(SETTINGS, expect=RestUpstreamSettings)
        if settings.mode == ALL:
            raise IrreversibleChange(
                f"{mirror_url} mirrors all projects, which cannot be undone; selecting projects needs a new mirror"
            )
        if settings.mode != SELECTED:
            mirror.put(f"{SETTINGS}/mode", SELECTED)
        current = set(settings.projectIds)
        # A bounded retry, not a wait: `bulk_attempts` tries, each after reading back what is there.
        for attempt in range(1, self.bulk_attempts + 1):
            if not wanted - current:
                break
            try:
                mirror.post(f"{SETTINGS}/projects", sorted(wanted - current, key=int))
                current |= wanted
            except (ServerUnavailable, Unreachable):
                # The POST may or may not have happened: read back rather than replay blindly.
                if attempt >= self.bulk_attempts:
                    raise
                clock.sleep(self.backoff_s)
                current = set(mirror.get(SETTINGS, expect=RestUpstreamSettings).projectIds)
        for project_id in sorted(current - wanted, key=int):
            mirror.delete(f"{SETTINGS}/projects/{project_id}")
        say(f"{mirror_url} mirrors {len(wanted)} project(s)")
        return sorted(wanted, key=int)

    def wait_for_sync(
        self,
        mirror: BitbucketClient,
        mirror_url: str,
        timeout_s: float,
        timeout_key: str = "mirrors[?].syncTimeoutS",
        wait_key: str = "mirrors[?].waitForSync",
    ) -> None:
        """Until the mirror reports every repository synchronised, or SyncTimeout at the deadline. A
        progress the schema does not allow ({}, counts as strings) is an error, never "synchronised";
        a mirror that does not answer for a while is asked again until the deadline."""
        deadline = Deadline(timeout_s)
        last: list[int] = [0, 0]  # the counts of the last answer, named while the mirror does not answer

        def attempt() -> Optional[NotYet[tuple[int, int, str]]]:
            try:
                progress = mirror.get(PROGRESS, deadline=deadline, expect=RestSyncProgress)
            except (ServerUnavailable, Unreachable) as exc:
                return NotYet((*last[:2], str(exc)))
            last[:] = [progress.syncedRepos, progress.totalRepos]
            if not progress.discovering and progress.syncedRepos >= progress.totalRepos:
                say(f"{mirror_url}: {progress.syncedRepos}/{progress.totalRepos} repositories synchronised")
                return None
            return NotYet((*last[:2], ""))

        def timed_out(seen: tuple[int, int, str]) -> SyncTimeout:
            synced, total, problem = seen
            return SyncTimeout(
                f"{mirror_url} synchronised {synced} of {total} repositories within {timeout_s:.0f}s"
                f"{f' (its last answer: {problem})' if problem else ''}; raise {timeout_key} (a first sync "
                f"of a large mirror takes hours) or set {wait_key}: false and let it finish in the "
                "background"
            )

        def progress(seen: tuple[int, int, str]) -> None:
            synced, total, problem = seen
            say(
                f"{mirror_url}: {synced}/{total} repositories synchronised"
                f"{f' (the mirror did not answer: {problem})' if problem else ''}"
            )

        poll_until(
            deadline,
            attempt,
            every=self.poll_interval_s,
            timed_out=timed_out,
            progress=progress,
            progress_every=self.progress_every_s,
            report_first=True,
        )

    @staticmethod
    def _inputs(props: dict[str, Any]) -> dict[str, Any]:
        return {k: props.get(k) for k in input_names(MirroredProjectsArgs)}


class MirroredProjects(Resource, module="bitbucket", name="MirroredProjects"):
    """A mirror's project selection: `project_ids` are the primary's ids of the mirrored projects."""

    project_keys: pulumi.Output[list[str]]
    project_ids: pulumi.Output[list[str]]
    mirror_all: pulumi.Output[bool]

    def __init__(self, name: str, args: MirroredProjectsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        # project_keys and mirror_all are inputs and outputs alike: their inputs must not be blanked.
        super().__init__(MirroredProjectsProvider(), name, {**inputs_of(args), "project_ids": None}, opts)
