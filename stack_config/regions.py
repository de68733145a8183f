"""The AWS regions this stack may name (aws:region, mirrors[].region): the ones botocore knows.

A name of the right shape is not a region (eu-centrl-1); the program would only find out from
pulumi-aws's errors during preview, which name no key. botocore's endpoints data (installed with the
providers' boto3, no network) lists every region of every partition; a region AWS opens after the
pinned botocore release is refused with the fix: upgrade botocore.
"""

from __future__ import annotations

import difflib
import functools
from typing import Optional

import botocore
import botocore.loaders


@functools.lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])


def closest_region(name: str) -> Optional[str]:
    close = difflib.get_close_matches(name.lower(), sorted(known_regions()), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(name: str) -> str:
    close = closest_region(name)
    return f"did you mean '{close}'?" if close else "write a region name such as eu-central-1."


def unknown_region_problem(name: str) -> Optional[str]:
    """Why `name` is not a region AWS has, with the closest one; None when it is one."""
    if name in known_regions():
        return None
    return (
        f"'{name}' is not an AWS region botocore {botocore.__version__} knows ({len(known_regions())} regions): "
        f"{did_you_mean(name)} (A region AWS opened after that release needs a newer botocore in requirements.txt.)"
    )
