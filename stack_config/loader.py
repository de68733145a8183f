"""Read the stack config once, validate all of it, and hand out frozen objects.

This is the only module that reads `pulumi.Config`. Everything wrong is reported together in one
`ConfigError` before the program registers a single resource.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import SecretStr, ValidationError

from .errors import NAMESPACE, ConfigError, Problem, problems_from_validation
from .model import Mirror, Monitoring, Network, Primary, StackModel, basic_auth_can_carry
from .rules import stack_problems
from .sites import Site, site_monitoring, site_network

PASSWORD_KEY = "primaryPassword"
_OBJECT_KEYS = ("primary", "network", "monitoring", "mirrors")


@dataclass(frozen=True)
class StackConfig:
    primary: Primary
    network: Network
    mirrors: tuple[Mirror, ...]
    # Only the dynamic providers use the password, and they read it themselves in configure();
    # the program keeps it as a secret Output so nothing here can print it.
    primary_password: pulumi.Output[str]
    aws_region: Optional[str] = None
    monitoring: Optional[Monitoring] = None

    @property
    def sites(self) -> tuple[Site, ...]:
        """Each mirror with the region and network it inherits (validated: every site has a region)."""
        return tuple(Site(mirror=m, region=m.region or self.aws_region or "",
                          network=site_network(self.network, m.network),
                          monitoring=site_monitoring(self.monitoring, m.monitoring), index=i)
                     for i, m in enumerate(self.mirrors))


def secret_output(value: SecretStr) -> pulumi.Output[str]:
    """Key material enters resources only through here, wrapped as a Pulumi secret."""
    return pulumi.Output.secret(value.get_secret_value())


def _namespace_keys() -> set[str]:
    # pulumi.Config has no way to list keys; the runtime's config bag does. Unknown top-level
    # keys (a typo such as `mirror:`) would otherwise be ignored silently.
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{NAMESPACE}:"
    return {k[len(prefix):] for k in keys if k.startswith(prefix)}


def _read_object(config: pulumi.Config, key: str) -> tuple[Any, Optional[Problem]]:
    try:
        return config.get_object(key), None
    except (json.JSONDecodeError, pulumi.ConfigTypeError):
        return None, Problem(key, "is not valid YAML/JSON structure; see Pulumi.example.yaml for its shape")


def load_stack_config(warn: Callable[[str], None] = pulumi.log.warn) -> StackConfig:
    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    problems: list[Problem] = []
    for key in _OBJECT_KEYS:
        value, problem = _read_object(config, key)
        if problem:
            problems.append(problem)
        elif value is not None:
            raw[key] = value
    for key in sorted(_namespace_keys() - set(_OBJECT_KEYS) - {PASSWORD_KEY}):
        raw[key] = config.get(key)  # validation reports it as unknown, with a suggestion

    password = config.get_secret(PASSWORD_KEY)
    if password is None:
        problems.append(Problem(PASSWORD_KEY,
                                "is required: the password of primary.username, set it as a secret: "
                                f"pulumi config set --secret {PASSWORD_KEY} <password>"))
    elif not basic_auth_can_carry(runtime_config.get_config(f"{NAMESPACE}:{PASSWORD_KEY}") or ""):
        # Read from the config bag, not the secret Output: the value is checked, never shown.
        problems.append(Problem(PASSWORD_KEY, "has characters HTTP basic authentication cannot carry (the providers "
                                              "send it as Latin-1): use a password of Latin-1 characters"))
    model = None
    try:
        model = StackModel.model_validate(raw)
    except ValidationError as exc:
        problems += problems_from_validation(exc, StackModel, extra_known=[PASSWORD_KEY])
    aws_region = pulumi.Config("aws").get("region")
    if model is not None:
        problems += stack_problems(model, warn, aws_region)
    if problems:
        # A stack-wide key that is wrong for several sites is one problem.
        raise ConfigError(list(dict.fromkeys(problems)))
    assert model is not None and password is not None
    return StackConfig(primary=model.primary, network=model.network, mirrors=model.mirrors,
                       primary_password=password, aws_region=aws_region, monitoring=model.monitoring)
