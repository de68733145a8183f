"""An emulated mirror's REST API ("Mirroring (Mirror)"): status, application properties, its licence
(its Server ID), its upstream, and once installed its progress, farm nodes, rolling upgrade (zdu)
and sync settings (mode and projects)."""

from __future__ import annotations

import re
from typing import Any, Optional

from .replies import API, Reply, _require, error
from .state import Mirror


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class MirrorRoutes:
    """A mirror's own REST API ("Mirroring (Mirror)"); it authenticates users against the primary.
    `node`: the address of the node that answers (a farm's nodes may run different versions)."""

    def __init__(self, emu: Any, mirror: Mirror, node: Optional[str] = None) -> None:  # emu: the Emulator
        self.emu, self.mirror, self.state, self.node = emu, mirror, emu.state, node

    def handle(self, method: str, path: str, query: dict, body: Any, user) -> Any:
        mirror, state = self.mirror, self.state
        if path == "/status":
            return {"state": "RUNNING"}
        if method == "GET" and re.fullmatch(rf"{API}/application-properties", path):
            version = next((n.version for n in mirror.farm_nodes if n.address == self.node), None) or state.version
            return {
                "version": version,
                "buildNumber": version.replace(".", "") + "000",
                "buildDate": "1719900000000",
                "displayName": "Bitbucket",
            }
        if method == "GET" and re.fullmatch(rf"{API}/admin/license", path):
            # A mirror says who it is as any Bitbucket instance does: its Server ID, which its
            # mirroring request carries as mirrorId (the vendor's document; UNCONFIRMED for mirrors).
            _require(user, status_if_not_admin=401)
            if not mirror.reports_server_id:
                raise error(404, "No license has been installed")
            return {"serverId": mirror.mirror_id, "status": {"serverId": mirror.mirror_id, "currentNumberOfUsers": 0}}
        if method == "GET" and re.fullmatch(rf"{API}/upstreamServer", path):
            if mirror.upstream_state == "INITIALIZING":
                raise error(404, "No upstream server has been registered")
            return {"id": "upstream-1", "baseUrl": self.emu.primary_url, "state": mirror.upstream_state}
        if not re.match(rf"{API}/(syncSettings|progress|farmNodes|zdu)", path):
            raise error(404, f"No route for {method} {path}")
        _require(user, status_if_not_admin=401)
        if mirror.upstream_state != "INSTALLED":
            raise error(
                404,
                "The upstream server could not be found",
                "com.atlassian.bitbucket.mirroring.mirror.NoSuchUpstreamServerException",
            )
        return self._installed(method, path, body)

    def _installed(self, method: str, path: str, body: Any) -> Any:
        """The routes of a mirror whose upstream is installed, for an authenticated user."""
        mirror, state = self.mirror, self.state
        if method == "GET" and re.fullmatch(rf"{API}/progress", path):
            return state.progress(mirror)
        if method == "GET" and re.fullmatch(rf"{API}/farmNodes", path):
            with state.lock:
                now = state.clock()
                return [n.json() for n in mirror.farm_nodes if n.listed(now)]
        match = re.fullmatch(rf"{API}/zdu/(start|end)", path)
        if method == "POST" and match:
            with state.lock:
                versions = mirror.versions()
                if match.group(1) == "end" and len(versions) > 1:
                    # The vendor's RollingUpgradeService refuses to leave upgrade mode while versions differ
                    # (the OpenAPI document lists no status for it: modelled as 409 Conflict).
                    raise error(
                        409,
                        f"Cannot end the rolling upgrade: the farm runs {', '.join(sorted(versions))}",
                        "com.atlassian.bitbucket.zdu.MixedVersionsException",
                    )
                mirror.upgrade_mode = match.group(1) == "start"
                self.emu.stats.add("POST", f"/rest/mirroring/latest/zdu/{match.group(1)}")
                return {"rollingUpgradeEnabled": mirror.upgrade_mode, "version": min(versions, key=_version_key)}
        if re.fullmatch(rf"{API}/syncSettings", path):
            if method == "PUT":
                self._set_mode(body.get("mode") if isinstance(body, dict) else None)
                self._set_projects([int(i) for i in body.get("projectIds", [])], replace=True)
            return self._settings()
        if re.fullmatch(rf"{API}/syncSettings/mode", path):
            if method == "PUT":
                self._set_mode(body)
                self.emu.stats.add("PUT", "/rest/mirroring/latest/syncSettings/mode")
            return mirror.mode
        if re.fullmatch(rf"{API}/syncSettings/projects", path):
            if method == "POST":
                if not isinstance(body, list) or not all(isinstance(i, str) and i.isdigit() for i in body):
                    raise error(400, "Expected a JSON array of project ids")
                self._set_projects([int(i) for i in body], replace=False)
                self.emu.stats.add("POST", "/rest/mirroring/latest/syncSettings/projects")
            return sorted(str(i) for i in mirror.project_ids)
        match = re.fullmatch(rf"{API}/syncSettings/projects/(\d+)", path)
        if match:
            project_id = int(match.group(1))
            if method == "POST":
                self._set_projects([project_id], replace=False)
                return sorted(str(i) for i in mirror.project_ids)
            if method == "DELETE":
                with state.lock:
                    mirror.project_ids.discard(project_id)
                self.emu.stats.add("DELETE", "/rest/mirroring/latest/syncSettings/projects/{id}")
                return Reply(204)
        raise error(404, f"No route for {method} {path}")

    def _settings(self) -> dict:
        return {"mode": self.mirror.mode, "projectIds": sorted(str(i) for i in self.mirror.project_ids)}

    def _set_mode(self, mode: Any) -> None:
        if mode not in ("ALL_PROJECTS", "SELECTED_PROJECTS"):
            raise error(400, f"The provided mode {mode!r} is invalid")
        with self.state.lock:
            if self.mirror.mode == "ALL_PROJECTS" and mode == "SELECTED_PROJECTS":
                # The vendor: mirroring all projects cannot be undone without reinstalling the mirror.
                raise error(400, "A mirror that mirrors all projects cannot go back to selected projects")
            if mode != self.mirror.mode:
                self.mirror.mode = mode
                self.mirror.sync_started = self.state.clock()

    def _set_projects(self, ids: list[int], replace: bool) -> None:
        with self.state.lock:
            unknown = [i for i in ids if i not in self.state.projects_by_id]
            if unknown:
                raise error(404, f"Projects {unknown} could not be found on the upstream")
            before = set(self.mirror.project_ids)
            self.mirror.project_ids = set(ids) if replace else before | set(ids)
            if self.mirror.project_ids - before:
                self.mirror.sync_started = self.state.clock()
