"""Text hygiene shared by the layers: HTML-escaping `<` and `>` in strings a client sent."""

from __future__ import annotations


def escape_angles(text: str) -> str:
    """`text` with `<` and `>` HTML-escaped (API.md: string input is stored escaped), so a
    value shown later in an HTML page cannot open a tag. Other characters are kept as sent."""
    if "<" in text or ">" in text:
        return text.replace("<", "&lt;").replace(">", "&gt;")
    return text
