"""The SYS_ADMIN credentials the providers use, from the stack config or the environment.

They arrive in each provider's `configure()`, never as resource inputs, and are never pickled with
the provider (the engine stores the pickled provider in state).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from facts.config import NAMESPACE
from facts.pulumi_cli import MIN_PULUMI_CLI

from .errors import MissingCredentials


@dataclass(frozen=True)
class Credentials:
    """The SYS_ADMIN user the providers call Bitbucket as; the password is never in a repr."""

    username: str
    password: str = field(repr=False)


def _received_no_stack_config(config: Any) -> bool:
    # Every stack this program accepts has `primary` and `mirrors`; a configure() without either
    # came from an engine that passed no stack config at all.
    return config is None or all(config.get(f"{NAMESPACE}:{key}") is None for key in ("primary", "mirrors"))


def from_config(config: Any) -> Credentials:
    """`config` is a `pulumi.dynamic.config.Config`; BITBUCKET_USERNAME/PASSWORD override it."""
    primary = config.get(f"{NAMESPACE}:primary") if config is not None else None
    if isinstance(primary, str):
        try:
            primary = json.loads(primary)
        except ValueError:
            primary = None
    username = os.environ.get("BITBUCKET_USERNAME") or (primary or {}).get("username")
    password = os.environ.get("BITBUCKET_PASSWORD") or (config.get(f"{NAMESPACE}:primaryPassword") if config else None)
    if username and password:
        return Credentials(username, password)
    if _received_no_stack_config(config):
        raise MissingCredentials(
            "the provider received no stack configuration from the Pulumi engine, so it has no Bitbucket "
            f"credentials: Pulumi CLIs older than {MIN_PULUMI_CLI} do not pass the stack config to dynamic "
            f"providers. Upgrade the Pulumi CLI to {MIN_PULUMI_CLI} or newer (`pulumi version` shows yours), "
            "or set BITBUCKET_USERNAME and BITBUCKET_PASSWORD for this run"
        )
    if not username:
        raise MissingCredentials(
            f"no Bitbucket username: set {NAMESPACE}:primary.username in the stack or BITBUCKET_USERNAME"
        )
    raise MissingCredentials(
        "no Bitbucket password: set it with `pulumi config set --secret primaryPassword` or BITBUCKET_PASSWORD"
    )
