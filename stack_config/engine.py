"""The Pulumi CLI this program needs: one that hands the stack config to the dynamic providers."""

from __future__ import annotations

import pulumi

from facts.pulumi_cli import MIN_PULUMI_CLI

REQUIRED_RANGE = f">={MIN_PULUMI_CLI}"


def require_pulumi_cli() -> None:
    """Refuse an older engine before anything is registered, saying why and what to do.

    Pulumi.yaml's requiredPulumiVersion makes newer CLIs refuse first; this also covers a CLI
    that ignores that key, and the engine answers it whatever starts the program.
    """
    try:
        pulumi.require_pulumi_version(REQUIRED_RANGE)
    except Exception as exc:  # the SDK raises plain Exceptions for both an old and a too-old engine
        raise pulumi.RunError(
            f"bitbucket-mirrors needs the Pulumi CLI {MIN_PULUMI_CLI} or newer: older CLIs do not pass the "
            "stack config (primary.username, primaryPassword) to the dynamic providers that approve the "
            "mirror. Upgrade the CLI (https://www.pulumi.com/docs/install/; `pulumi version` shows "
            f"yours). The engine said: {exc}"
        ) from None
