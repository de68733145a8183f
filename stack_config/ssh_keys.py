"""An SSH public key line (`<type> <base64 key blob> [comment]`, as ssh-keyscan prints it), read as a
key rather than matched as text: a host key that is pinned must be one ssh can pin.

The blob starts with its own key type (RFC 4253 6.6); ssh compares that, not the line's first word,
so a line whose two types differ pins nothing. cryptography then reads the key itself (an RSA
modulus, a point on the named curve, 32 bytes of Ed25519).
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Optional

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_ssh_public_key

from facts.text import control_characters

from .shown import looks_like_key_material, shown

# The host key types OpenSSH offers by default (DSA is gone from OpenSSH since 9.8).
KEY_TYPES = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa")
_EXPECTED = "an SSH public key line '<type> <base64 key> [comment]' such as ssh-keyscan prints"


def _blob_type(blob: bytes) -> Optional[str]:
    """The key type the blob names first (an SSH string: a 4-byte length, then the text)."""
    if len(blob) < 4:
        return None
    (length,) = struct.unpack(">I", blob[:4])
    if length > len(blob) - 4:
        return None
    try:
        return blob[4 : 4 + length].decode("ascii")
    except UnicodeDecodeError:
        return None


def ssh_public_key_problem(line: str) -> Optional[str]:
    """What is wrong with `line` as an SSH public key, or None when ssh can use it."""
    if looks_like_key_material(line):
        return f"expected {_EXPECTED}; got a private key (not shown)"
    bad = control_characters(line)
    if bad:
        return f"expected {_EXPECTED}, on one line without control or format characters (found {', '.join(bad)})"
    fields = line.split(" ", 2)
    if len(fields) < 2 or fields[0] not in KEY_TYPES:
        return f"expected {_EXPECTED}, of type {', '.join(KEY_TYPES)}; got {shown(line)}"
    key_type, encoded = fields[0], fields[1]
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return f"expected {_EXPECTED}: its second field is not base64; got {shown(line)}"
    inner = _blob_type(blob)
    if inner != key_type:
        named = f"names {shown(inner)}" if inner else "names no key type"
        return f"expected {_EXPECTED}: the line says {key_type} but its key {named}; got {shown(line)}"
    try:
        load_ssh_public_key(f"{key_type} {encoded}".encode())
    except (ValueError, UnsupportedAlgorithm):
        return f"expected {_EXPECTED}: the {key_type} key in it is not a valid key (truncated?); got {shown(line)}"
    return None
