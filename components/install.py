"""Install Bitbucket in mirror mode on one node, over SSH with the node's host key pinned.

The rendered files (install script, bitbucket.properties, systemd unit, nginx site, certificate
and key) travel as one tarball on the SSH command's stdin: stdin is a Pulumi secret whenever any
file is, so key material and the farm's Hazelcast password never sit in plain text in state, in
user data or on a command line. The install re-runs whenever the bundle changes: a new version,
new properties, a renewed certificate.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
from pulumi_command import remote

from . import host_files as files
from .bundle import bundle
from stack_config import Bastion, secret_output

from .host import MirrorHost


@dataclass(frozen=True)
class FarmInputs:
    group_name: str
    group_password: pulumi.Output[str]      # secret
    region: str
    tag_key: str                            # the tag every node of this farm, and only those, carry
    tag_value: str


@dataclass(frozen=True)
class NginxInputs:
    server_name: str
    certificate: str
    private_key: pulumi.Output[str]         # secret


@dataclass(frozen=True)
class MirrorInstallArgs:
    host: MirrorHost
    login_private_key: pulumi.Output[str]   # secret
    bitbucket_version: str
    base_url: str
    setup_block: pulumi.Input[str]          # MirrorSetup.properties
    installer_url: Optional[str] = None
    installer_sha256: Optional[str] = None
    ca_bundle: Optional[str] = None
    farm: Optional[FarmInputs] = None
    nginx: Optional[NginxInputs] = None
    bastion: Optional[Bastion] = None
    jmx_exporter: bool = False
    # Resources this node's installation waits for (a farm's later nodes wait for the first).
    # A component's own depends_on does not reach its children, so it is applied to them here.
    wait_for: Sequence[pulumi.Resource] = ()


def render_files(args: MirrorInstallArgs, home_volume_id: str, setup_block: str,
                 role_name: Optional[str], group_password: Optional[str],
                 private_key: Optional[str]) -> dict[str, str]:
    farm = None
    if args.farm is not None:
        farm = files.FarmSpec(group_name=args.farm.group_name, group_password=group_password or "",
                              region=args.farm.region, iam_role=role_name or "",
                              tag_key=args.farm.tag_key, tag_value=args.farm.tag_value)
    contents = {
        files.StagedFile.PROPERTIES: files.render_bitbucket_properties(
            files.PropertiesSpec(setup_block=setup_block, base_url=args.base_url, farm=farm)),
        files.StagedFile.SYSTEMD_UNIT: files.render_systemd_unit(jmx_exporter=args.jmx_exporter),
        files.StagedFile.INSTALL_SCRIPT: install_script(args, home_volume_id),
    }
    if args.ca_bundle is not None:
        contents[files.StagedFile.CA_BUNDLE] = _pem(args.ca_bundle)
    if args.nginx is not None:
        contents[files.StagedFile.NGINX_SITE] = files.render_nginx_site(
            files.NginxSiteSpec(server_name=args.nginx.server_name))
        contents[files.StagedFile.TLS_CERT] = _pem(args.nginx.certificate)
        contents[files.StagedFile.TLS_KEY] = _pem(private_key or "")
    return {str(k): v for k, v in contents.items()}


def install_script(args: MirrorInstallArgs, home_volume_id: str) -> str:
    """The node's install script: no secret in it (keys and passwords are staged files)."""
    return files.render_install_script(files.InstallSpec(
        bitbucket_version=args.bitbucket_version, home_volume_id=home_volume_id,
        tls_mode="nginx" if args.nginx else "acm", installer_url=args.installer_url,
        installer_sha256=args.installer_sha256, has_ca_bundle=args.ca_bundle is not None,
        jmx_exporter=args.jmx_exporter))


def preflight(name: str, args: MirrorInstallArgs, connection: remote.ConnectionArgs,
              opts: pulumi.ResourceOptions) -> remote.Command:
    """The target version's Java, Git and OpenSSH floors checked on the node, stopping nothing.
    It runs again for every new version, before the site's first node is stopped."""
    return remote.Command(
        name, connection=connection, create="sudo bash -s -- --preflight",
        stdin=args.host.home_volume_id.apply(lambda volume: install_script(args, volume)),
        triggers=[args.bitbucket_version], opts=opts)


def _pem(text: str) -> str:
    # Config values arrive stripped; PEM files end with a newline.
    return text.strip() + "\n"


def staged_payload(args: MirrorInstallArgs) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """The node's files as a bundle, and its digest: a new digest means the install runs again."""
    host = args.host
    staged = pulumi.Output.all(
        host.home_volume_id, args.setup_block,
        host.role_name if args.farm else None,
        args.farm.group_password if args.farm else None,
        args.nginx.private_key if args.nginx else None,
    ).apply(lambda v: render_files(args, *v))
    payload = staged.apply(bundle)
    return payload, payload.apply(lambda p: hashlib.sha256(p.encode()).hexdigest())


def node_connection(host: MirrorHost, login_private_key: pulumi.Output[str],
                    bastion: Optional[Bastion]) -> remote.ConnectionArgs:
    """SSH to the node with its host key pinned (through the bastion when there is one)."""
    return remote.ConnectionArgs(
        host=host.address, user=host.login_user, private_key=login_private_key,
        host_key=host.host_key, dial_error_limit=40, per_dial_timeout=15, proxy=_proxy(bastion))


class MirrorInstall(pulumi.ComponentResource):
    done: pulumi.Output[str]

    def __init__(self, name: str, args: MirrorInstallArgs, opts: Optional[pulumi.ResourceOptions] = None,
                 staged: Optional[tuple[pulumi.Output[str], pulumi.Output[str]]] = None,
                 connection: Optional[remote.ConnectionArgs] = None):
        super().__init__("bitbucket-mirrors:install:MirrorInstall", name, None, opts)
        payload, digest = staged or staged_payload(args)
        connection = connection or node_connection(args.host, args.login_private_key, args.bastion)
        self.connection = connection   # the pinned connection, for what else this node receives
        stage = remote.Command(
            f"{name}-stage", connection=connection, stdin=payload,
            create=(f"set -e; sudo rm -rf {files.STAGING_DIR}; sudo install -d -m 0700 {files.STAGING_DIR}; "
                    f"base64 -d | sudo tar -xzf - -C {files.STAGING_DIR} --no-same-owner"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for)))
        install = remote.Command(
            f"{name}-install", connection=connection,
            create=f"sudo bash {files.STAGING_DIR}/{files.StagedFile.INSTALL_SCRIPT}",
            # Replace (so re-run) whenever version, properties, certificate or script change.
            triggers=[digest],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[stage]))
        # A larger home volume (EBS grows it in place) needs its filesystem grown too: online, no restart.
        remote.Command(
            f"{name}-grow-home", connection=connection, create=f"sudo xfs_growfs {files.HOME_DIR}",
            triggers=[args.host.home_volume_size], opts=pulumi.ResourceOptions(parent=self, depends_on=[install]))
        self.done = install.stdout.apply(lambda _: "installed")
        self.register_outputs({"done": self.done})


def _proxy(bastion: Optional[Bastion]) -> Optional[remote.ProxyConnectionArgs]:
    if bastion is None:
        return None
    return remote.ProxyConnectionArgs(host=bastion.host, user=bastion.user, port=bastion.port,
                                      private_key=secret_output(bastion.private_key),
                                      host_key=bastion.host_key)
