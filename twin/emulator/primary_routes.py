"""The emulated primary's REST API: application properties, status, SSH settings, the licence, the
projects, and the mirroring requests and mirror servers an admin approves and removes."""

from __future__ import annotations

import re
from typing import Any

from .replies import API, Reply, _require, error, page

PRIMARY_SERVER_ID = "B1F2-C3D4-E5F6-A7B8"


class PrimaryRoutes:
    """The primary's REST API as one route function: what a client (the providers, a test) asks the primary."""

    def __init__(self, emu: Any) -> None:  # the Emulator (server.py imports this module)
        self.emu = emu
        self.state = emu.state

    def handle(self, method: str, path: str, query: dict, body: Any, user) -> Any:
        state, emu = self.state, self.emu
        if method == "GET" and re.fullmatch(rf"{API}/application-properties", path):
            return {
                "version": state.version,
                "buildNumber": state.version.replace(".", "") + "000",
                "buildDate": "1719900000000",
                "displayName": "Bitbucket",
            }
        if re.fullmatch(r"/status", path):
            return {"state": "RUNNING"}
        if method == "GET" and re.fullmatch(rf"{API}/settings", path) and "/ssh/" in path:
            _require(user, admin=False)
            return {
                "enabled": state.ssh_enabled,
                "port": state.ssh_port,
                "accessKeysEnabled": True,
                "baseUrl": f"ssh://git@127.0.0.1:{state.ssh_port}",
            }
        if method == "GET" and re.fullmatch(rf"{API}/admin/license", path):
            _require(user)
            return {
                "creationDate": 1700000000000,
                "expiryDate": 1900000000000,
                "maximumNumberOfUsers": 500,
                "unlimitedNumberOfUsers": False,
                "serverId": PRIMARY_SERVER_ID,
                "supportEntitlementNumber": "SEN-123456",
                "status": {"dataCenter": state.licensed_dc, "serverId": PRIMARY_SERVER_ID},
                "license": "AAAB-emulated",
            }
        if method == "GET" and re.fullmatch(rf"{API}/projects", path):
            _require(user, admin=False)
            with state.lock:
                values = [p.json(emu.primary_url) for p in sorted(state.projects.values(), key=lambda p: p.id)]
            return page(values, query)
        match = re.fullmatch(rf"{API}/projects/([^/]+)", path)
        if method == "GET" and match and "/api/" in path:
            _require(user, admin=False)
            project = state.projects.get(match.group(1).upper())
            if project is None:
                raise error(
                    404,
                    f"Project {match.group(1)} does not exist.",
                    "com.atlassian.bitbucket.project.NoSuchProjectException",
                )
            return project.json(emu.primary_url)
        if "/mirroring/" in path:
            _require(user)
            return self._mirroring(method, path, query)
        raise error(404, f"No route for {method} {path}")

    def _mirroring(self, method: str, path: str, query: dict) -> Any:
        state, stats = self.state, self.emu.stats
        if method == "GET" and re.fullmatch(rf"{API}/requests", path):
            with state.lock:
                values = [
                    dict(r)
                    for r in sorted(state.requests.values(), key=lambda r: r["id"])
                    if "state" not in query or r["state"] == query["state"]
                ]
            return page(values, query)
        match = re.fullmatch(rf"{API}/requests/(\d+)(/accept|/reject)?", path)
        if match:
            request_id, action = int(match.group(1)), match.group(2)
            missing = error(
                409,
                f"The mirroring request {request_id} could not be found or is not pending",
                "com.atlassian.bitbucket.mirroring.upstream.NoSuchMirroringRequestException",
            )
            if method == "GET" and not action:
                if request_id not in state.requests:
                    raise missing
                return dict(state.requests[request_id])
            if method == "POST" and action == "/accept":
                server = state.accept(request_id)
                if server is None:
                    raise missing
                stats.add("POST", "/rest/mirroring/latest/requests/{id}/accept")
                return dict(server)
            if method == "POST" and action == "/reject":
                with state.lock:
                    request = state.requests.get(request_id)
                    if request is None or request["state"] != "PENDING":
                        raise missing
                    request["state"] = "REJECTED"
                return {
                    "id": request["mirrorId"],
                    "name": request["mirrorName"],
                    "baseUrl": request["mirrorBaseUrl"],
                    "enabled": False,
                    "mirrorType": request["mirrorType"],
                    "productVersion": request["productVersion"],
                }
            if method == "DELETE" and not action:
                if state.requests.pop(request_id, None) is None:
                    raise missing
                return Reply(204)
        if method == "GET" and re.fullmatch(rf"{API}/mirrorServers", path):
            with state.lock:
                values = [dict(s) for s in state.mirror_servers.values()]
            return page(values, query)
        match = re.fullmatch(rf"{API}/mirrorServers/([^/]+)", path)
        if match:
            mirror_id = match.group(1)
            if method == "GET":
                if mirror_id not in state.mirror_servers:
                    raise error(404, f"Mirror server {mirror_id} does not exist")
                return dict(state.mirror_servers[mirror_id])
            if method == "DELETE":
                if not state.remove_mirror_server(mirror_id):
                    raise error(404, f"Mirror server {mirror_id} does not exist")
                stats.add("DELETE", "/rest/mirroring/latest/mirrorServers/{id}")
                return Reply(204)
        raise error(404, f"No route for {method} {path}")
