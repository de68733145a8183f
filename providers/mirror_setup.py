"""MirrorSetup: preflight the primary and render the mirror's setup keys (docs/bitbucket-facts.md §2).

The setup keys apply only on a mirror's first start and can never change afterwards, so a change
of display name, base URL or primary URL replaces the resource (and, through the install, the
mirror's home)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from facts.bitbucket import MIN_MAJOR

from .answers import RestApplicationProperties, RestBitbucketLicense, RestSshSettings
from .base import BitbucketProvider, input_names, inputs_of, is_unknown, say
from .errors import AuthenticationError, NotFound, PermissionDenied, PreflightError
from .messages import shown
from .setup_properties import render_setup_block
from .urls import normalise_base_url

SETUP_KEYS = ("display_name", "base_url", "primary_url")


@dataclass
class MirrorSetupArgs:
    """The mirror's setup values (read by Bitbucket on its first start only) and how to reach the primary."""

    # The primary's URL: preflighted (version, SSH, licence) and written as the mirror's upstream; a
    # change (compared normalised) replaces the setup.
    primary_url: pulumi.Input[str]
    # What the mirror calls itself on the primary (setup.displayName): one non-empty line; a change
    # replaces the setup.
    display_name: pulumi.Input[str]
    # The mirror's own URL (setup.baseUrl, and the resource's id): a change replaces the setup.
    base_url: pulumi.Input[str]
    # A PEM bundle trusted for the primary's certificate besides the system's (None: the system's);
    # a change is an update that preflights the primary again.
    ca_bundle: Optional[pulumi.Input[str]] = None


class MirrorSetupProvider(BitbucketProvider):
    """The primary's preflight and the mirror's rendered setup keys (module docstring).

    - check: the URLs plain https, the display name one non-empty line; nothing is called.
    - diff: a change of display name, base URL or primary URL (normalised; an unknown one counts)
      replaces it, create before delete (the setup keys apply only at a mirror's first start); a new
      CA bundle is an update.
    - create / update / read: preflight the primary (Bitbucket 9.0 or newer, SSH on, a Data Center
      licence when it can be read: a PreflightError says what to fix) and render the setup keys; read
      preflights again, so a refresh sees a primary that changed. Nothing is written anywhere.
    - delete: nothing on the primary belongs to the setup (MirrorApproval removes the approval); safe
      to repeat.
    """

    url_inputs = ("primary_url", "base_url")

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = self.url_failures(news)
        name = news.get("display_name")
        if not is_unknown(name):
            if not isinstance(name, str) or not name.strip():
                failures.append(CheckFailure("display_name", "the display name must not be empty"))
            elif "\n" in name or "\r" in name:
                failures.append(CheckFailure("display_name", "the display name must be one line"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in SETUP_KEYS if is_unknown(news.get(k)) or _norm(k, olds.get(k)) != _norm(k, news.get(k))]
        changed = bool(replaces) or olds.get("ca_bundle") != news.get("ca_bundle")
        return DiffResult(changes=changed, replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(normalise_base_url(props["base_url"]), self._outputs(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, self._outputs(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._outputs(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing on the primary belongs to the setup; the mirror's approval is removed by MirrorApproval."""

    def _outputs(self, props: dict[str, Any]) -> dict[str, Any]:
        version, ssh_port = self.preflight(props["primary_url"], props.get("ca_bundle"))
        inputs = {k: props.get(k) for k in input_names(MirrorSetupArgs)}
        return {
            **inputs,
            "properties": render_setup_block(props["display_name"], props["base_url"], props["primary_url"]),
            "primary_version": version,
            "primary_ssh_port": ssh_port,
        }

    def preflight(self, primary_url: str, ca_bundle: Optional[str]) -> tuple[str, int]:
        """The primary's version and SSH port, or a PreflightError saying what to fix. Each answer is
        checked against the vendor's schema: `"enabled": "false"` is an error, not SSH on."""
        with self.client(primary_url, ca_bundle) as client:
            version = client.get("/rest/api/latest/application-properties", expect=RestApplicationProperties).version
            try:
                major = int(version.split(".")[0])
            except ValueError:
                raise PreflightError(f"{primary_url} did not report a Bitbucket version ({shown(version)})") from None
            if major < MIN_MAJOR:
                raise PreflightError(
                    f"{primary_url} runs Bitbucket {shown(version)}; this tool drives the mirroring API of 9.0 and "
                    "newer (8.x keeps project settings under other paths): upgrade the primary first"
                )
            ssh = client.get("/rest/ssh/latest/settings", expect=RestSshSettings)
            if not ssh.enabled:
                raise PreflightError(
                    f"SSH is disabled on {primary_url}: mirrors synchronise over SSH only; enable it in "
                    "Administration > Server settings"
                )
            self._check_licence(client, primary_url)
            return version, ssh.port or 7999

    @staticmethod
    def _check_licence(client, primary_url: str) -> None:
        try:
            licence = client.get("/rest/api/latest/admin/license", expect=RestBitbucketLicense)
        except (PermissionDenied, AuthenticationError, NotFound) as exc:
            say(f"could not read the licence of {primary_url} ({exc.status}); mirroring needs a Data Center licence")
            return
        if licence.status is not None and licence.status.dataCenter is False:
            raise PreflightError(f"{primary_url} has no Data Center licence; smart mirrors need one")


def _norm(key: str, value: Any) -> Any:
    return normalise_base_url(value) if key != "display_name" and isinstance(value, str) else value


class MirrorSetup(Resource, module="bitbucket", name="MirrorSetup"):
    """A site's setup keys (`properties`), with the primary's version and SSH port it preflighted."""

    properties: pulumi.Output[str]
    primary_version: pulumi.Output[str]
    primary_ssh_port: pulumi.Output[int]

    def __init__(self, name: str, args: MirrorSetupArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(
            MirrorSetupProvider(),
            name,
            {**inputs_of(args), "properties": None, "primary_version": None, "primary_ssh_port": None},
            opts,
        )
