"""Read the stack config once, validate all of it, and hand out frozen objects.

This is the only module that reads `pulumi.Config`. Everything wrong is reported together in one
`ConfigError` before the program registers a single resource; the rules themselves run on the
runtime's config bag in `validation.py`, which the offline check (`check.py`) shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import SecretStr

from .errors import NAMESPACE, Problem, problems_text
from .model import Backup, Mirror, Monitoring, Network, Primary
from .primary_reach import primary_reach_problems, resolve
from .sites import Site, site_backup, site_monitoring, site_network
from .validation import AWS_REGION_KEY, OBJECT_KEYS, PASSWORD_KEY, check_config_bag

__all__ = ["PASSWORD_KEY", "ConfigError", "StackConfig", "load_stack_config", "secret_output"]


class ConfigError(pulumi.RunError):
    """Raised before any resource is registered; `pulumi preview` shows it without a traceback.

    Defined here, with the Pulumi SDK, so that the rules and the offline check import no Pulumi.
    """

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__(problems_text(self.problems))


@dataclass(frozen=True)
class StackConfig:
    """The validated stack config the program builds from: what every component reads. A change to
    a field here is a change of the deployed stack (its sites, their resources), not of one message."""

    primary: Primary
    network: Network
    mirrors: tuple[Mirror, ...]
    # Only the dynamic providers use the password, and they read it themselves in configure();
    # the program keeps it as a secret Output so nothing here can print it.
    primary_password: pulumi.Output[str]
    aws_region: Optional[str] = None
    monitoring: Optional[Monitoring] = None
    backup: Backup = Backup()
    kms_key_arn: Optional[str] = None
    iam_permissions_boundary_arn: Optional[str] = None

    @property
    def sites(self) -> tuple[Site, ...]:
        """Each mirror with the region and network it inherits (validated: every site has a region)."""
        return tuple(
            Site(
                mirror=m,
                region=m.region or self.aws_region or "",
                network=site_network(self.network, m.network),
                monitoring=site_monitoring(self.monitoring, m.monitoring),
                backup=site_backup(self.backup, m.backup),
                kms_key_arn=m.kms_key_arn or self.kms_key_arn,
                iam_permissions_boundary_arn=self.iam_permissions_boundary_arn,
                index=i,
            )
            for i, m in enumerate(self.mirrors)
        )


def secret_output(value: SecretStr) -> pulumi.Output[str]:
    """Key material enters resources only through here, wrapped as a Pulumi secret."""
    return pulumi.Output.secret(value.get_secret_value())


def runtime_config_bag() -> dict[str, str]:
    """The config the CLI handed this program, as `pulumi.Config` would read each key.

    pulumi.Config has no way to list keys; the runtime's bag does. Unknown keys of this project (a
    typo such as `mirror:`) must be seen: they would otherwise be ignored silently.
    """
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    keys |= {f"{NAMESPACE}:{k}" for k in (*OBJECT_KEYS, PASSWORD_KEY)} | {AWS_REGION_KEY}
    bag = {}
    for key in keys:
        value = runtime_config.get_config(key)
        if value is not None:
            bag[key] = value
    return bag


def runtime_secret_keys(bag: dict[str, str]) -> set[str]:
    """The keys of the bag the CLI handed over as secrets (set in the runtime, or in the
    environment's PULUMI_CONFIG_SECRET_KEYS as the language host passes them)."""
    from_environment = set(runtime_config.get_config_secret_keys_env())
    return {key for key in bag if runtime_config.is_config_secret(key) or key in from_environment}


def load_stack_config(warn: Callable[[str], None] = pulumi.log.warn) -> StackConfig:
    bag = runtime_config_bag()
    checked = check_config_bag(bag, warn, secret_keys=runtime_secret_keys(bag))
    if checked.problems:
        raise ConfigError(checked.problems)
    model = checked.model
    assert model is not None
    # Needs the network (the primary's address), so preview judges it and the offline check only warns.
    reach = primary_reach_problems(model, warn, resolve)
    if reach:
        raise ConfigError(reach)
    # The password stays a secret Output from the moment it is read; the bag's copy was only checked.
    password = pulumi.Config(NAMESPACE).get_secret(PASSWORD_KEY)
    assert password is not None
    return StackConfig(
        primary=model.primary,
        network=model.network,
        mirrors=model.mirrors,
        primary_password=password,
        aws_region=checked.aws_region,
        monitoring=model.monitoring,
        backup=model.backup,
        kms_key_arn=model.kms_key_arn,
        iam_permissions_boundary_arn=model.iam_permissions_boundary_arn,
    )
