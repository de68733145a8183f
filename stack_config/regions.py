"""The AWS regions this stack may name (aws:region, mirrors[].region): the ones botocore knows.

A name of the right shape is not a region (eu-centrl-1); the program would only find out from
pulumi-aws's errors during preview, which name no key. The pinned botocore's endpoints data lists
every region of every partition (copied to facts/aws_regions.json so the offline check needs no
botocore); a region AWS opens after that release is refused with the fix: upgrade botocore.
"""

from __future__ import annotations

import difflib
from typing import Optional

from facts.regions import botocore_version, known_regions

# The regions people mean most, most first: the oldest and largest regions of each continent.
# A near-miss such as `eu-west` matches eu-west-1, -2 and -3 equally well; the suggestion is the one
# a user most likely meant, not the last in alphabetical order.
MOST_MEANT = (
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-southeast-1",
    "us-east-2",
    "eu-west-2",
    "ap-south-1",
    "ca-central-1",
    "sa-east-1",
    "us-west-1",
    "ap-northeast-2",
    "eu-north-1",
    "eu-west-3",
)
# Matches this close to the best one count as equally good; the most meant of them wins.
_TIE = 0.05
_CUTOFF = 0.6

__all__ = ["closest_region", "did_you_mean", "known_regions", "unknown_region_problem"]


def _rank(region: str) -> tuple[int, str]:
    return (MOST_MEANT.index(region) if region in MOST_MEANT else len(MOST_MEANT), region)


def closest_region(name: str) -> Optional[str]:
    typed = name.lower()
    scores = {r: difflib.SequenceMatcher(None, typed, r).ratio() for r in known_regions()}
    close = {r: s for r, s in scores.items() if s >= _CUTOFF}
    if not close:
        return None
    best = max(close.values())
    return min((r for r, s in close.items() if s >= best - _TIE), key=_rank)


def did_you_mean(name: str) -> str:
    close = closest_region(name)
    return f"did you mean '{close}'?" if close else "write a region name such as eu-central-1."


def unknown_region_problem(name: str) -> Optional[str]:
    """Why `name` is not a region AWS has, with the closest one; None when it is one."""
    if name in known_regions():
        return None
    return (
        f"'{name}' is not an AWS region botocore {botocore_version()} knows ({len(known_regions())} regions): "
        f"{did_you_mean(name)} (A region AWS opened after that release needs a newer botocore in requirements.txt "
        "and its list in facts/aws_regions.json.)"
    )
