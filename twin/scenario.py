"""One change of a stack as the twin plays it (a Scenario), and the stack files it is played from:
BEFORE, AFTER and what follows, written from twin/stacks with the keys the scenario changes."""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

from twin.program import STACKS


@dataclass(frozen=True)
class Scenario:
    """A change the twin plays: the stack it starts from, the keys that change, and what it does
    around them (failing nodes, a kill, a new release, the ups that follow)."""

    name: str
    stack: str  # twin/stacks/<stack>.yaml, the starting point
    change: dict[str, Any] = field(default_factory=dict)  # keys of mirrors[0] in AFTER
    before: dict[str, Any] = field(default_factory=dict)  # keys of mirrors[0] in BEFORE
    primary: dict[str, Any] = field(default_factory=dict)  # keys of primary in AFTER
    failing_nodes: tuple[int, ...] = ()  # whose Bitbucket does not start in AFTER's up
    kill_after: Optional[int] = None  # AFTER's up is killed after this many steps
    release: Optional[str] = None  # a new release of this project for AFTER ("boot")
    # Further ups: "after" (the same config again), "before" (back), or keys of mirrors[0] (from BEFORE).
    then: tuple[Any, ...] = ()
    refused: bool = False  # AFTER must be refused at preview
    drop: tuple[str, ...] = ()  # names of mirrors AFTER (and what follows) no longer has


def stack_with(
    stack: str, mirror: dict[str, Any], primary: dict[str, Any], directory: Path, name: str, drop: tuple[str, ...] = ()
) -> Path:
    document = yaml.safe_load((STACKS / f"{stack}.yaml").read_text())
    config = document["config"]
    site = config["bitbucket-mirrors:mirrors"][0]
    site.update(mirror)
    config["bitbucket-mirrors:mirrors"] = [m for m in config["bitbucket-mirrors:mirrors"] if m["name"] not in drop]
    config["bitbucket-mirrors:primary"].update(primary)
    pinned = site.get("installer")
    if pinned and "bitbucketVersion" in mirror and "installer" not in mirror:
        # An admin who pins the installer changes it with the version (preview refuses otherwise).
        version = site["bitbucketVersion"]
        url = re.sub(r"atlassian-bitbucket-[\d.]+\.tar\.gz$", f"atlassian-bitbucket-{version}.tar.gz", pinned["url"])
        if url != pinned["url"]:
            site["installer"] = {"url": url, "sha256": hashlib.sha256(url.encode()).hexdigest()}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@contextlib.contextmanager
def new_release(kind: Optional[str]) -> Iterator[None]:
    """A later release of this project, as the twin's program sees it: "boot", a changed boot
    script (every node's user data changes)."""
    if kind is None:
        yield
        return
    assert kind == "boot", kind
    from components import boot

    original = boot.user_data
    boot.user_data = lambda name: original(name) + "# a later release of bitbucket-mirrors\n"  # type: ignore[assignment]
    try:
        yield
    finally:
        boot.user_data = original  # type: ignore[assignment]
