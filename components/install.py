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

from facts import types
from providers.versions import minor_line
from stack_config import Bastion

from . import host_files as files
from .bundle import bundle
from .host import MirrorHost
from .node_command import node_command, node_connection, script_command, unpack_bundle


@dataclass(frozen=True)
class FarmInputs:
    """What a farm node needs to find and join the others (Hazelcast over EC2 discovery)."""

    # The Hazelcast group: nodes of another group never join this farm.
    group_name: str
    # The group's password (secret): a new one restarts every node on its install.
    group_password: pulumi.Output[str]
    # Where the nodes look for each other (EC2 discovery is regional).
    region: str
    # The tag every node of this farm, and only those, carry (with tag_value).
    tag_key: str
    # The tag's value: the site's farm, scoped by stack.
    tag_value: str


@dataclass(frozen=True)
class NginxInputs:
    """TLS on the node (tls.mode nginx): nginx serves the mirror's base URL with this certificate."""

    # The base URL's host: nginx's server_name.
    server_name: str
    # tls.certificate (PEM, with its chain): a new one reloads nginx on the install.
    certificate: str
    # tls.privateKey (secret): written to the node only, never in state in plain text.
    private_key: pulumi.Output[str]


@dataclass(frozen=True)
class MirrorInstallArgs:
    """What one node installs (components/install.py MirrorInstall): Bitbucket's version, its
    configuration files, and how to reach the node. A change of what the node's files are made of
    (the staged bundle's digest) runs the install again, on that node's turn in the rollout."""

    # The node (None in a RolloutPlan's template: the rollout sets each node's).
    host: Optional[MirrorHost]
    # The site's login key (secret): the install connects with it.
    login_private_key: pulumi.Output[str]
    # mirrors[].bitbucketVersion: a new one is an upgrade (UpgradeWindow decides how).
    bitbucket_version: str
    # mirrors[].baseUrl: what the node's properties and nginx serve.
    base_url: str
    # MirrorSetup.properties: the mirror's setup keys in bitbucket.properties.
    setup_block: pulumi.Input[str]
    # mirrors[].installer.url: where the archive comes from (None: Atlassian's download site).
    installer_url: Optional[str] = None
    # mirrors[].installer.sha256: the archive must be these bytes (None: trust on first use).
    installer_sha256: Optional[str] = None
    # primary.caBundle: the CA the node trusts for the primary (None: the system's).
    ca_bundle: Optional[str] = None
    # A farm node's Hazelcast settings (None: a single node).
    farm: Optional[FarmInputs] = None
    # TLS on the node (None: behind a load balancer).
    nginx: Optional[NginxInputs] = None
    # network.bastion: the install connects through it (None: directly).
    bastion: Optional[Bastion] = None
    # monitoring.jmxExporter: the node runs the JMX exporter (and its port opens to metricsCidrs).
    jmx_exporter: bool = False
    # Which mirror the node's home belongs to (MirrorGeneration.generation): a new one empties it.
    generation: Optional[pulumi.Input[str]] = None
    # How often the node has been drained for an install (NodeDrain.drains): each drain runs it again.
    drained: Optional[pulumi.Input[int]] = None
    # The site's SSH host key for Bitbucket's own SSH server (PEM, secret): the same on every node.
    ssh_server_key: Optional[pulumi.Output[str]] = None
    # Resources this node's installation waits for (a farm's later nodes wait for the first).
    # A component's own depends_on does not reach its children, so it is applied to them here.
    wait_for: Sequence[pulumi.Resource] = ()
    # The node's pinned connection, when the rollout has built it already for the node's other
    # commands (built here otherwise).
    connection: Optional[remote.ConnectionArgs] = None
    # The node's staged bundle and the bundle's digest (a new digest installs again), when the rollout
    # has built them already for the node's drain (built here otherwise).
    staged: Optional[tuple[pulumi.Output[str], pulumi.Output[str]]] = None
    # The sha256 this site first verified for this version (ArchiveTrust.sha256, "" for none yet): the
    # archive this node installs must be those bytes. None on the node that verifies it first.
    trusted_sha256: Optional[pulumi.Input[str]] = None


def render_files(
    args: MirrorInstallArgs,
    home_volume_id: str,
    setup_block: str,
    role_name: Optional[str],
    group_password: Optional[str],
    private_key: Optional[str],
    generation: Optional[str] = None,
    ssh_server_key: Optional[str] = None,
    trusted_sha256: Optional[str] = None,
) -> dict[str, str]:
    farm = None
    if args.farm is not None:
        farm = files.FarmSpec(
            group_name=args.farm.group_name,
            group_password=group_password or "",
            region=args.farm.region,
            iam_role=role_name or "",
            tag_key=args.farm.tag_key,
            tag_value=args.farm.tag_value,
        )
    contents = {
        files.StagedFile.PROPERTIES: files.render_bitbucket_properties(
            files.PropertiesSpec(setup_block=setup_block, base_url=args.base_url, farm=farm)
        ),
        files.StagedFile.SYSTEMD_UNIT: files.render_systemd_unit(jmx_exporter=args.jmx_exporter),
        files.StagedFile.INSTALL_SCRIPT: install_script(args, home_volume_id, trusted_sha256),
    }
    if generation is not None:
        contents[files.StagedFile.GENERATION] = generation + "\n"
    if ssh_server_key is not None:
        contents[files.StagedFile.SSH_SERVER_KEY] = _pem(ssh_server_key)
    if args.ca_bundle is not None:
        contents[files.StagedFile.CA_BUNDLE] = _pem(args.ca_bundle)
    if args.nginx is not None:
        contents[files.StagedFile.NGINX_SITE] = files.render_nginx_site(
            files.NginxSiteSpec(server_name=args.nginx.server_name)
        )
        contents[files.StagedFile.TLS_CERT] = _pem(args.nginx.certificate)
        contents[files.StagedFile.TLS_KEY] = _pem(private_key or "")
    return {str(k): v for k, v in contents.items()}


def install_script(args: MirrorInstallArgs, home_volume_id: str, trusted_sha256: Optional[str] = None) -> str:
    """The node's install script: no secret in it (keys and passwords are staged files)."""
    return files.render_install_script(
        files.InstallSpec(
            bitbucket_version=args.bitbucket_version,
            home_volume_id=home_volume_id,
            tls_mode="nginx" if args.nginx else "acm",
            installer_url=args.installer_url,
            installer_sha256=args.installer_sha256,
            has_ca_bundle=args.ca_bundle is not None,
            jmx_exporter=args.jmx_exporter,
            trusted_sha256=trusted_sha256 or None,
        )
    )


def preflight(
    name: str, args: MirrorInstallArgs, connection: remote.ConnectionArgs, opts: pulumi.ResourceOptions
) -> remote.Command:
    """The target version's Java, Git and OpenSSH floors checked on the node and its archive
    downloaded and verified, stopping nothing. It runs again for every new version, before the
    site's first node is stopped. Its stdout reports the sha256 of the archive it verified."""
    return node_command(
        name,
        connection,
        script_command("--preflight"),
        opts,
        stdin=_script(args),
        triggers=[args.bitbucket_version],
    )


def stop_for_upgrade(
    name: str, args: MirrorInstallArgs, connection: remote.ConnectionArgs, opts: pulumi.ResourceOptions
) -> remote.Command:
    """Before a farm's first node changes: stop this node if it runs another minor line than the
    target, or its home belongs to another mirror generation (nodes of either cannot join the new
    cluster). On a first install, or a bug-fix upgrade, it stops nothing."""
    generation = pulumi.Output.from_input(args.generation or "")
    return node_command(
        name,
        connection,
        generation.apply(lambda g: script_command(f"--stop-for-upgrade {g}".rstrip())),
        opts,
        stdin=_script(args),
        triggers=[minor_line(args.bitbucket_version), generation],
    )


def _script(args: MirrorInstallArgs) -> pulumi.Output[str]:
    return pulumi.Output.all(args.host.home_volume_id, args.trusted_sha256).apply(
        lambda v: install_script(args, v[0], v[1])
    )


def _pem(text: str) -> str:
    # Config values arrive stripped; PEM files end with a newline.
    return text.strip() + "\n"


def staged_payload(args: MirrorInstallArgs) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """The node's files as a bundle, and its digest: a new digest means the install runs again."""
    host = args.host
    staged = pulumi.Output.all(
        host.home_volume_id,
        args.setup_block,
        host.role_name if args.farm else None,
        args.farm.group_password if args.farm else None,
        args.nginx.private_key if args.nginx else None,
        args.generation,
        args.ssh_server_key,
        args.trusted_sha256,
    ).apply(lambda v: render_files(args, *v))
    payload = staged.apply(bundle)
    return payload, payload.apply(lambda p: hashlib.sha256(p.encode()).hexdigest())


class MirrorInstall(pulumi.ComponentResource):
    """Bitbucket on one node: its files staged as one bundle, then installed and started. It runs again
    when the bundle's digest changes (a version, a setting, a new home) or the node is drained for it;
    `done` resolves once the node's install has finished."""

    done: pulumi.Output[str]
    connection: remote.ConnectionArgs

    def __init__(self, name: str, args: MirrorInstallArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(types.INSTALL, name, None, opts)
        payload, digest = args.staged or staged_payload(args)
        connection = args.connection or node_connection(args.host, args.login_private_key, args.bastion)
        self.connection = connection  # the pinned connection, for what else this node receives
        # The node's files, staged again whenever they change (and after a new connection: harmless),
        # and after every drain for an install: a new root volume (osImage) has lost them.
        stage = node_command(
            f"{name}-stage",
            connection,
            unpack_bundle(files.STAGING_DIR, private=True),
            pulumi.ResourceOptions(parent=self, depends_on=[*args.wait_for, args.host.home_attachment]),
            stdin=payload,
            update=None,
            triggers=[args.drained] if args.drained is not None else None,
        )
        # Run again (replaced) whenever version, properties, certificate or script change, on a new
        # instance, and after every drain for an install; a new connection alone changes nothing.
        install = node_command(
            f"{name}-install",
            connection,
            f"sudo bash {files.STAGING_DIR}/{files.StagedFile.INSTALL_SCRIPT}",
            pulumi.ResourceOptions(parent=self, depends_on=[stage]),
            triggers=[digest, args.host.instance_id, *([args.drained] if args.drained is not None else [])],
        )
        # A larger home volume (EBS grows it in place) needs its filesystem grown too: online, no restart.
        node_command(
            f"{name}-grow-home",
            connection,
            f"sudo xfs_growfs {files.HOME_DIR}",
            pulumi.ResourceOptions(parent=self, depends_on=[install]),
            triggers=[args.host.home_volume_size],
        )
        self.done = install.stdout.apply(lambda _: "installed")
        self.register_outputs({"done": self.done})
