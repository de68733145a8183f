"""What the three providers share: credentials from configure(), clients, unknown values."""
from __future__ import annotations

import sys
from dataclasses import fields
import time
from typing import TYPE_CHECKING, Any, Optional

from pulumi.dynamic import ConfigureRequest, ResourceProvider

from .host_pool import unqueue_host_calls
from .credentials import Credentials, MissingCredentials, from_config

if TYPE_CHECKING:   # requests loads with the first call that talks to Bitbucket, not with the program
    from .client import BitbucketClient

# The engine's placeholder for a value not known yet (preview); it may stand in for any type.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_unknown(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    return value == UNKNOWN


def say(message: str) -> None:
    """Progress for the person running `pulumi up` (pulumi.log cannot be used in a dynamic provider)."""
    print(f"bitbucket-mirrors: {message}", file=sys.stderr, flush=True)


class BitbucketProvider(ResourceProvider):
    # Tunables, instance-overridable (tests shrink them); production defaults.
    retries: int = 6
    backoff_s: float = 0.5

    def configure(self, req: ConfigureRequest) -> None:
        unqueue_host_calls(say)
        # Missing credentials are reported by the first call that needs them, not here: the host
        # would turn an error in configure() into a failed Check, and preview needs none.
        try:
            self._credentials: Credentials | MissingCredentials = from_config(req.config)
        except MissingCredentials as missing:
            self._credentials = missing

    def __getstate__(self) -> dict:
        # The engine pickles the provider into state: credentials must never travel with it.
        state = dict(self.__dict__)
        state.pop("_credentials", None)
        return state

    def credentials(self) -> Credentials:
        found: Optional[Credentials | MissingCredentials] = self.__dict__.get("_credentials")
        if isinstance(found, MissingCredentials):
            raise MissingCredentials(str(found)) from None
        return found if found is not None else from_config(None)  # environment only

    def client(self, url: str, ca_bundle: Optional[str]) -> BitbucketClient:
        from .client import BitbucketClient
        creds = self.credentials()
        return BitbucketClient(url, creds.username, creds.password, ca_bundle=ca_bundle or None,
                               retries=self.retries, backoff_s=self.backoff_s)


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def passed(self) -> bool:
        return self.elapsed >= self.seconds


def inputs_of(args: Any) -> dict[str, Any]:
    """An Args dataclass as resource inputs (shallow: dataclasses.asdict would deep-copy Outputs)."""
    return {f.name: getattr(args, f.name) for f in fields(args)}


def input_names(args_class: type) -> list[str]:
    return [f.name for f in fields(args_class)]
