"""Client text made safe: undecodable bytes replaced, control characters escaped, length capped,
`<` `>` HTML-escaped."""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def well_formed(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD.

    aiohttp decodes header bytes that are not UTF-8 with `surrogateescape`, so a header may
    hold lone surrogates, which neither orjson nor BSON can encode (a 500, a lost log line).
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(REPLACEMENT if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, limit: int | None = None) -> str:
    """`text` with every non-printable character (controls, line and paragraph separators,
    bidi overrides, lone surrogates) written as a `\\xNN`/`\\uNNNN` escape, and cut to
    `limit` characters (then ending in `...`), so it can never start a new line or repaint
    a terminal where it is shown."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "..."
    return text


def escape_angles(text: str) -> str:
    """`text` with `<` and `>` HTML-escaped (API.md: string input is stored escaped), so a
    value shown later in an HTML page cannot open a tag. Other characters are kept as sent."""
    if "<" in text or ">" in text:
        return text.replace("<", "&lt;").replace(">", "&gt;")
    return text
