"""Cloud-init user data for mirror nodes: nothing secret, only what pins the SSH host key."""
from __future__ import annotations

import shlex
from importlib import resources
from string import Template

import yaml


class _ScriptTemplate(Template):
    delimiter = "@"  # bash owns "$"


def pin_host_key_script(parameter_name: str) -> str:
    template = _ScriptTemplate(resources.files(__package__).joinpath("pin-host-key.sh").read_text())
    return template.substitute(parameter=shlex.quote(parameter_name))


def user_data(parameter_name: str) -> str:
    """A cloud-config that installs the pinned host key before sshd first starts."""
    document = {
        # cloud-init would otherwise replace our key with freshly generated ones.
        "ssh_deletekeys": False,
        "ssh_genkeytypes": [],
        "bootcmd": [["bash", "-c", pin_host_key_script(parameter_name)]],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1000)
