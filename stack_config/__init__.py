"""Typed, validated stack config (README "Config reference"): the only package that reads `pulumi.Config`."""

from .errors import ConfigError, Problem
from .loader import StackConfig, load_stack_config, secret_output
from .model import Bastion, Installer, Mirror, Monitoring, Network, Primary, Tls
from .sites import Site

__all__ = [
    "ConfigError",
    "Problem",
    "StackConfig",
    "load_stack_config",
    "secret_output",
    "Bastion",
    "Installer",
    "Mirror",
    "Monitoring",
    "Network",
    "Primary",
    "Site",
    "Tls",
]
