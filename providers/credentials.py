"""The SYS_ADMIN credentials the providers use, from the stack config or the environment.

They arrive in each provider's `configure()`, never as resource inputs, and are never pickled with
the provider (the engine stores the pickled provider in state).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "bitbucket-mirrors"


class MissingCredentials(ValueError):
    pass


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


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
    if not username:
        raise MissingCredentials(
            f"no Bitbucket username: set {NAMESPACE}:primary.username in the stack or BITBUCKET_USERNAME")
    if not password:
        raise MissingCredentials(
            "no Bitbucket password: set it with `pulumi config set --secret primaryPassword` or BITBUCKET_PASSWORD")
    return Credentials(username, password)
