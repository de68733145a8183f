"""Files for a node, as one reproducible tarball on a remote command's stdin."""

from __future__ import annotations

import base64
import io
import tarfile
from typing import Mapping


def bundle(contents: Mapping[str, str]) -> str:
    """A reproducible gzip'd tar of the staged files, base64 for a shell's stdin."""
    buffer = io.BytesIO()
    # mtime 0 and sorted names: the same files give the same bundle, so nothing re-runs needlessly.
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9, format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(contents):
            data = contents[name].encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o600
            tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    # gzip stores its own mtime in the header; zero it so equal files give equal bytes.
    raw = raw[:4] + b"\0\0\0\0" + raw[8:]
    return base64.b64encode(raw).decode()
