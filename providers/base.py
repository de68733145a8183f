"""What the providers share: credentials from configure(), clients, unknown values, inputs as
dataclasses, and the rollout steps' diff."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, Optional

from pulumi.dynamic import ConfigureRequest, DiffResult, ReadResult, ResourceProvider

from .credentials import Credentials, MissingCredentials, from_config
from .host_pool import unqueue_host_calls
from .messages import say

if TYPE_CHECKING:  # requests loads with the first call that talks to Bitbucket, not with the program
    from .client import BitbucketClient

# The engine's placeholder for a value not known yet (preview); it may stand in for any type.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_unknown(value: Any) -> bool:
    """A value the engine does not know yet: its sentinel string, or the SDK's `Unknown` (what the
    provider host's Check and Diff hand over, since they deserialize keeping unknowns)."""
    from pulumi.output import Unknown

    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    return isinstance(value, Unknown) or value == UNKNOWN


class BitbucketProvider(ResourceProvider):
    """A dynamic provider that calls Bitbucket: credentials from configure() (never pickled into the
    state), clients bounded by the tunables below, and the https check of its URL inputs."""

    # Tunables, instance-overridable (tests shrink them); production defaults.
    retries: int = 6
    backoff_s: float = 0.5
    # The inputs that are URLs this provider talks to: refused at check (preview) unless plain https.
    url_inputs: tuple[str, ...] = ()

    def url_failures(self, news: dict[str, Any]) -> list:
        from pulumi.dynamic import CheckFailure

        from .urls import https_problem

        return [
            CheckFailure(key, problem)
            for key in self.url_inputs
            if key in news and not is_unknown(news.get(key))
            for problem in [https_problem(news.get(key))]
            if problem
        ]

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

    def client(self, url: str, ca_bundle: Optional[str], retries: Optional[int] = None) -> BitbucketClient:
        from .client import BitbucketClient

        creds = self.credentials()
        return BitbucketClient(
            url,
            creds.username,
            creds.password,
            ca_bundle=ca_bundle or None,
            retries=self.retries if retries is None else retries,
            backoff_s=self.backoff_s,
        )


def inputs_of(args: Any) -> dict[str, Any]:
    """An Args dataclass as resource inputs (shallow: dataclasses.asdict would deep-copy Outputs)."""
    return {f.name: getattr(args, f.name) for f in fields(args)}


def input_names(args_class: type) -> list[str]:
    return [f.name for f in fields(args_class)]


class StepProvider(BitbucketProvider):
    """A rollout step: no resource of its own anywhere, its inputs decide when it runs again.

    `decided_by` names the inputs whose change is an update; the others (the node's name, the site
    a warning is attributed to, timeouts) never make one. Read keeps what the state has: the step's
    effect is checked against the world when it runs, not on refresh."""

    decided_by: tuple[str, ...] = ()
    url_inputs = ("mirror_url",)

    def check(self, olds: dict[str, Any], news: dict[str, Any]):
        from pulumi.dynamic import CheckResult

        return CheckResult(news, self.url_failures(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = any(olds.get(k) != news.get(k) for k in self.decided_by)
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    @staticmethod
    def changed(olds: dict[str, Any], news: dict[str, Any], *keys: str) -> bool:
        """Whether any of `keys` changed. A key the old state does not have was not tracked then:
        recorded now, acted on from the next change."""
        return any(k in olds and olds.get(k) != news.get(k) for k in keys)
