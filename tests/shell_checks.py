"""The real tools' verdict on a generated shell script: shellcheck (every severity) and bash -n."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def assert_clean_shell_script(text: str, directory: Path, name: str = "script.sh") -> None:
    script = directory / name
    script.write_text(text)
    assert shutil.which("shellcheck"), "shellcheck is required (scripts/test.sh installs it)"
    checked = subprocess.run(["shellcheck", "--severity=style", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
