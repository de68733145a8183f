"""Which AWS account and regions a stack file deploys to, with the credentials in the environment.

`python -m stack_config.aws_identity Pulumi.dev.yaml` prints one line (account, caller, regions) or
exits non-zero saying why the credentials do not work. scripts/up.sh runs it before `pulumi up`, so
a missing or expired credential is said before anything is created, not after half a stack.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def regions_of(stack_file: Path) -> list[str]:
    config = (yaml.safe_load(Path(stack_file).read_text()) or {}).get("config") or {}
    default = config.get("aws:region")
    sites = config.get("bitbucket-mirrors:mirrors") or []
    found = {site.get("region") or default for site in sites if isinstance(site, dict)} | (
        {default} if default else set()
    )
    return sorted(r for r in found if r)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m stack_config.aws_identity Pulumi.<stack>.yaml", file=sys.stderr)
        return 2
    regions = regions_of(Path(argv[0]))
    import boto3
    import botocore.exceptions

    try:
        identity = boto3.client("sts", region_name=regions[0] if regions else None).get_caller_identity()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"account {identity['Account']} as {identity['Arn']}, region(s) {', '.join(regions) or 'none set'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
