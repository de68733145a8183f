"""The cloud-init user data that pins a node's SSH host key, checked with the real tools."""

from __future__ import annotations

import yaml

from components.boot import pin_host_key_script, user_data
from tests.shell_checks import assert_clean_shell_script

PARAMETER = "/bitbucket-mirrors/dev/syd-node0/ssh-host-ed25519-key"


def test_script_passes_shellcheck_and_bash_syntax(tmp_path):
    assert_clean_shell_script(pin_host_key_script(PARAMETER), tmp_path, "pin-host-key.sh")


def test_user_data_is_cloud_config_that_keeps_the_pinned_key():
    text = user_data(PARAMETER)
    assert text.startswith("#cloud-config\n")
    document = yaml.safe_load(text)
    # cloud-init must neither delete nor regenerate host keys, or the pinned key would be replaced.
    # Only the pinned key's type: cloud-init skips a type whose key file bootcmd already wrote.
    assert document["ssh_deletekeys"] is False and document["ssh_genkeytypes"] == ["ed25519"]
    assert "key=/etc/ssh/ssh_host_ed25519_key" in document["bootcmd"][0][2]
    (command,) = document["bootcmd"]
    assert command[:2] == ["bash", "-c"]
    assert f"parameter={PARAMETER}" in command[2]
    assert "HostKey" in command[2] and "--with-decryption" in command[2]


def test_parameter_name_is_quoted_for_the_shell():
    script = pin_host_key_script("/odd name/$(reboot)")
    assert "parameter='/odd name/$(reboot)'" in script
