"""Cloud-init user data for mirror nodes: nothing secret, only what pins the SSH host key."""

from __future__ import annotations

import shlex
from functools import lru_cache
from importlib import resources
from string import Template

import yaml


class _ScriptTemplate(Template):
    delimiter = "@"  # bash owns "$"


@lru_cache(maxsize=1)
def _pin_host_key_template() -> _ScriptTemplate:
    return _ScriptTemplate(resources.files(__package__).joinpath("pin-host-key.sh").read_text())


def pin_host_key_script(parameter_name: str) -> str:
    return _pin_host_key_template().substitute(parameter=shlex.quote(parameter_name))


def user_data(parameter_name: str) -> str:
    """A cloud-config that installs the pinned host key before sshd first starts."""
    document = {
        # cloud-init would otherwise delete the pinned key and generate fresh ones.
        "ssh_deletekeys": False,
        # cloud-init generates a key type only when its file is missing; bootcmd has installed the
        # pinned ed25519 key by then, so this generates nothing. (An empty list, the obvious way to
        # say "none", fails cloud-init's schema: minItems 1 since 22.2, a degraded boot from 23.4.)
        "ssh_genkeytypes": ["ed25519"],
        "bootcmd": [["bash", "-c", pin_host_key_script(parameter_name)]],
    }
    # libyaml's dumper where PyYAML has it (it writes the same YAML, several times faster).
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return "#cloud-config\n" + yaml.dump(document, Dumper=dumper, sort_keys=False, width=1000)
