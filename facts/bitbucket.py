"""What Bitbucket requires of the values this project hands it."""

from __future__ import annotations

import re
from typing import Optional

# The mirror-side REST API this tool drives (syncSettings) exists from 9.0 on; 8.x keeps project
# settings under other paths (docs/bitbucket-facts.md §1).
MIN_MAJOR = 9

# A project key: a letter first, then letters, digits or underscores, at most 128 characters.
# Bitbucket stores keys upper-case; the config takes either case.
PROJECT_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")

VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def unsupported_version(version: str) -> Optional[str]:
    """Why this tool cannot drive Bitbucket `version`, or None when it can."""
    match = VERSION.match(version)
    if not match:
        return f"'{version}' is not a Bitbucket version MAJOR.MINOR.PATCH such as 9.4.16"
    if int(match.group(1)) < MIN_MAJOR:
        return (
            f"{version} is older than {MIN_MAJOR}.0; the mirror-side REST API this tool drives (syncSettings) "
            f"exists from {MIN_MAJOR}.0 on"
        )
    return None


def is_project_key(key: str) -> bool:
    return bool(PROJECT_KEY.match(key))
