"""A reader of Java .properties text, to check rendered files the way Bitbucket will read them."""

from __future__ import annotations

import re


def parse(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.lstrip()
        if not line or line[0] in "#!":
            continue
        key, _, value = (
            re.split(r"(?<!\\)([=:])", line, maxsplit=1) if re.search(r"(?<!\\)[=:]", line) else (line, "", "")
        )
        values[key.strip()] = _unescape(value)
    return values


def _unescape(value: str) -> str:
    units = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), value)
    # Surrogate pairs come back as two code units: join them the way Java's UTF-16 strings do.
    joined = units.encode("utf-16", "surrogatepass").decode("utf-16")
    return re.sub(r"\\(.)", r"\1", joined)
