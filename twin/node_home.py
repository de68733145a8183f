"""A home volume's files in a node's mount point: written from the world's `Home` while it is
mounted, and read back, so that what the install script writes there (and deletes: a rebuilt
mirror's home is emptied by the script's own `find -delete`) is what the volume holds, snapshots
and other nodes included.

What Bitbucket itself keeps in the home (its data, which records the version that last started on
it and the mirror it belongs to) stands as one file the script never writes, DATA: when the script
empties the home, Bitbucket's data goes with it, as it does on a node.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from .world_objects import Home

GENERATION = ".bitbucket-mirrors-generation"  # install.sh GENERATION_MARKER
PROPERTIES = "shared/bitbucket.properties"
SSH_SERVER_KEY = "shared/config/ssh-server-keys.pem"
DATA = "shared/data/bitbucket-data.twin"  # stands for Bitbucket's own data in the home


def _as_files(home: Home) -> dict[str, str]:
    files = dict(home.files)
    if home.generation is not None:
        files[GENERATION] = home.generation + "\n"
    if home.properties is not None:
        files[PROPERTIES] = home.properties
    if home.ssh_server_key is not None:
        files[SSH_SERVER_KEY] = home.ssh_server_key
    if home.version is not None or home.mirror is not None:
        files[DATA] = f"version={home.version or ''}\nmirror={home.mirror or ''}\n"
    return files


def _read(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        return {}
    return {
        str(path.relative_to(directory)): path.read_text(errors="replace")
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def write_home(home: Optional[Home], directory: Path) -> bool:
    """The mount point shows `home` (None: nothing mounted, an empty directory on the root disk).
    True when it shows Bitbucket's data."""
    wanted = _as_files(home) if home is not None else {}
    if _read(directory) == wanted:
        return DATA in wanted
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for name, text in wanted.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return DATA in wanted


def read_home(directory: Path, home: Home, shown_data: bool) -> bool:
    """The volume holds what the mount point holds now; True when Bitbucket's data was deleted
    (it was there when last shown: data Bitbucket wrote since is the world's, not yet shown)."""
    files = _read(directory)
    generation = files.pop(GENERATION, None)
    home.generation = generation.strip() if generation is not None else None
    home.properties = files.pop(PROPERTIES, None)
    home.ssh_server_key = files.pop(SSH_SERVER_KEY, None)
    data = files.pop(DATA, None)
    had_data = home.version is not None or home.mirror is not None
    wiped = shown_data and data is None
    if wiped:
        home.version, home.mirror = None, None
    home.files = files
    return wiped and had_data
