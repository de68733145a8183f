"""Characters a reader cannot see: what the config refuses in a value that tools read as written
(a URL, a key, a name), and what a URL check finds before urlsplit silently drops some of them."""

from __future__ import annotations

import unicodedata

# Cc: C0, DEL and C1 controls. Cf: format characters (bidi overrides and isolates, zero-width joiners,
# the BOM), which show nothing yet reorder or hide the text around them in a UI, a log or a file. Zl and
# Zp: the line and paragraph separators, which break a line where a reader expects none.
_UNSEEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")


def control_characters(text: str) -> list[str]:
    """The control and format characters in `text` (Unicode categories Cc, Cf, Zl, Zp), as U+XXXX,
    in order of first use."""
    found = [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in _UNSEEN_CATEGORIES]
    return list(dict.fromkeys(found))
