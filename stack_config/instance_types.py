"""Sizes of common EC2 instance families, to refuse hosts too small for a Bitbucket node.

The vendor sizes a mirror like a Bitbucket node; we hold the line at 2 vCPU / 8 GiB. Families not
listed here are let through with a warning rather than refused: AWS adds families faster than
this table grows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from facts.hosts import architecture_of

from .shown import shown

MIN_VCPUS = 2
MIN_MEMORY_GIB = 8

# GiB of memory per vCPU for general-purpose (m), compute (c) and memory (r) families.
_GIB_PER_VCPU: dict[str, float] = {
    **{f: 4 for f in ("m5", "m5a", "m5n", "m6i", "m6a", "m6in", "m7i", "m7a", "m7i-flex", "m8i", "m6g", "m7g", "m8g")},
    **{f: 2 for f in ("c5", "c5a", "c6i", "c6a", "c6in", "c7i", "c7a", "c8i", "c6g", "c7g", "c8g")},
    "c5n": 2.625,  # c5n.large: 2 vCPU, 5.25 GiB
    **{f: 8 for f in ("r5", "r5a", "r5n", "r6i", "r6a", "r7i", "r7a", "r8i", "r6g", "r7g", "r8g")},
}
# Only Graviton and the 7th-generation AMD families have a one-vCPU "medium" size; every other
# family listed starts at "large". (Without this the table would invent an m6i.medium.)
_HAS_MEDIUM = frozenset(f for f in _GIB_PER_VCPU if re.match(r"^[a-z]+\d+g$", f) or f.endswith("7a"))
# Burstable families do not follow a per-vCPU ratio: (vCPU, GiB) per size.
_BURSTABLE: dict[str, dict[str, tuple[int, float]]] = {
    fam: {
        "nano": (2, 0.5),
        "micro": (2, 1),
        "small": (2, 2),
        "medium": (2, 4),
        "large": (2, 8),
        "xlarge": (4, 16),
        "2xlarge": (8, 32),
    }
    for fam in ("t3", "t3a", "t4g")
}
_SIZE = re.compile(r"^(?:(\d+)?xlarge|large|medium|small|micro|nano|metal(?:-\d+xl)?)$")


@dataclass(frozen=True)
class InstanceSize:
    """The vCPUs, memory and architecture of an instance type: a node smaller than the floor is
    refused at preview, and the architecture picks the AMI a new node boots."""

    vcpus: int
    memory_gib: float
    architecture: str  # "x86_64" or "arm64": picks the AMI


class UnknownInstanceType(ValueError):
    """The family is not in the table; callers warn and go on."""


def _architecture(family: str) -> str:
    return architecture_of(family)


def size_of(instance_type: str) -> InstanceSize:
    """vCPU and memory of a known family's size; UnknownInstanceType for anything else."""
    family, _, size = instance_type.partition(".")
    if not size or not _SIZE.match(size):
        raise ValueError(f"{shown(instance_type)} is not an EC2 instance type (expected family.size, e.g. m6i.xlarge)")
    arch = _architecture(family)
    if family in _BURSTABLE:
        if size not in _BURSTABLE[family]:
            raise UnknownInstanceType(instance_type)
        vcpus, gib = _BURSTABLE[family][size]
        return InstanceSize(vcpus, gib, arch)
    if family not in _GIB_PER_VCPU:
        raise UnknownInstanceType(instance_type)
    if size.startswith("metal"):
        raise UnknownInstanceType(instance_type)  # metal sizes vary by family; large enough anyway
    if size in ("nano", "micro", "small") or (size == "medium" and family not in _HAS_MEDIUM):
        smallest = "medium" if family in _HAS_MEDIUM else "large"
        raise ValueError(
            f"'{instance_type}' is not an EC2 instance type: {family} has no {size} size, its smallest "
            f"is {family}.{smallest}; a mirror needs at least {MIN_VCPUS} vCPU and {MIN_MEMORY_GIB} GiB "
            "(e.g. m6i.large, m6i.xlarge)"
        )
    vcpus = {"medium": 1, "large": 2}.get(size)
    if vcpus is None:
        multiplier = size[: -len("xlarge")] or "1"
        vcpus = 4 * int(multiplier)
    return InstanceSize(vcpus, vcpus * _GIB_PER_VCPU[family], arch)
