"""How a command on a node is built: the one way every remote command of this project reaches a
node (its pinned SSH connection, what a change of inputs runs, how a bundle on stdin is unpacked).

stdin carries what a command needs from this program (a script, a bundle of files): never a command
line, so nothing secret reaches a process list or an error message, and a secret stdin keeps the
command's state secret."""

from __future__ import annotations

from typing import Optional

import pulumi
from pulumi_command import remote

from stack_config import Bastion, secret_output

from .host import MirrorHost

# What a changed connection (a new public address after EC2 stopped and started the instance) runs
# instead of the command's create: nothing. pulumi-command runs `update`, or else `create` again,
# on any input change that is not a trigger (remote/commandController.go Update).
UNCHANGED = "true"


def node_command(
    name: str,
    connection: remote.ConnectionArgs,
    create: str,
    opts: pulumi.ResourceOptions,
    *,
    stdin: Optional[pulumi.Input[str]] = None,
    triggers: Optional[list] = None,
    update: Optional[str] = UNCHANGED,
    delete: Optional[str] = None,
) -> remote.Command:
    """A command on one node over its pinned SSH connection. `triggers` are what run it again;
    `update` (default: nothing) is what a change of anything else runs; None runs `create` again."""
    return remote.Command(
        name,
        connection=connection,
        create=create,
        update=update,
        delete=delete,
        stdin=stdin,
        triggers=triggers,
        opts=opts,
    )


def script_command(mode: str) -> str:
    """The install script, sent on stdin, in one of its modes (--preflight, --stop-for-upgrade)."""
    return f"sudo bash -s -- {mode}"


def node_connection(
    host: MirrorHost,
    login_private_key: pulumi.Output[str],
    bastion: Optional[Bastion],
    address: Optional[pulumi.Input[str]] = None,
) -> remote.ConnectionArgs:
    """SSH to the node with its host key pinned (through the bastion when there is one), at
    `address` when given (where it answers after its instance stopped and started), else at the
    address its instance was given."""
    return remote.ConnectionArgs(
        host=address if address is not None else host.address,
        user=host.login_user,
        private_key=login_private_key,
        host_key=host.host_key,
        dial_error_limit=40,
        per_dial_timeout=15,
        proxy=_proxy(bastion),
    )


def unpack_bundle(target: str, private: bool) -> str:
    """The shell that unpacks a bundle from stdin into `target` (emptied first when private: only
    root may read what it holds)."""
    if private:
        return (
            f"set -e; sudo rm -rf {target}; sudo install -d -m 0700 {target}; "
            f"base64 -d | sudo tar -xzf - -C {target} --no-same-owner"
        )
    return f"base64 -d | tar -xzf - -C {target} --no-same-owner"


def _proxy(bastion: Optional[Bastion]) -> Optional[remote.ProxyConnectionArgs]:
    if bastion is None:
        return None
    return remote.ProxyConnectionArgs(
        host=bastion.host,
        user=bastion.user,
        port=bastion.port,
        private_key=secret_output(bastion.private_key),
        host_key=bastion.host_key,
    )
