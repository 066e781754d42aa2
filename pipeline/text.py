"""Small text helpers shared by the CLI and the flows."""

from __future__ import annotations

import re
import unicodedata


def slug(text: str) -> str:
    """ASCII file-name form of a name: 'Gdańsk' -> 'gdansk'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "x"
