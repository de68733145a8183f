"""The setup block of a mirror's bitbucket.properties: applied only on the mirror's first start."""

from __future__ import annotations


def escape_value(value: str) -> str:
    """java.util.Properties escaping for a value (ASCII out, so the file's charset cannot matter)."""
    out = []
    for i, ch in enumerate(value):
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\n\r":
            raise ValueError("property values cannot contain line breaks")
        elif ch == " " and i == 0:
            out.append("\\ ")
        elif ord(ch) > 126 or ord(ch) < 32:
            # Java reads \uXXXX as UTF-16 code units: characters beyond U+FFFF need a surrogate pair.
            data = ch.encode("utf-16-be")
            out.append("".join(f"\\u{int.from_bytes(data[j : j + 2], 'big'):04x}" for j in range(0, len(data), 2)))
        else:
            out.append(ch)
    return "".join(out)


def render_setup_block(display_name: str, base_url: str, primary_url: str) -> str:
    lines = {
        "setup.displayName": display_name,
        "setup.baseUrl": base_url.rstrip("/"),
        "plugin.mirroring.upstream.url": primary_url.rstrip("/"),
        "plugin.mirroring.upstream.type": "server",
    }
    return "".join(f"{key}={escape_value(value)}\n" for key, value in lines.items())
