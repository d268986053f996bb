"""The canonical form of an email address: the one string that is stored, indexed, looked up
and counted for an account (issue 13 item 8).

canonical_email(text):
  1. refuses any control character (C0, DEL, C1), wherever it is;
  2. NFKC-normalises, so compatibility look-alikes (fullwidth letters U+FF21..,
     ligatures, math letters, circled letters, ideographic spaces) become their plain letters;
  3. trims whitespace and lower-cases;
  4. requires the result to be ASCII: a letter from another script that looks like a Latin
     one (Cyrillic U+0430) could otherwise make a second account that reads the same, so
     non-ASCII local parts and internationalised domains are refused; an IDN domain is
     accepted in its ASCII `xn--` form (converting it here would have to pick between
     IDNA 2003 and 2008, which send `ß` to different domains);
  5. requires a dot-atom local part (no quoted strings, no empty or double dots, at most 64
     characters) and a domain name of at least two LDH labels whose last one is not all
     digits (no IP literals, no `localhost` or other dotless names), at most 254 in all.
It is idempotent: the canonical form of a canonical form is itself.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 254  # RFC 5321 path limit less the angle brackets
MAX_LOCAL = 64
_ATOM = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class InvalidEmail(ValueError):
    """The text has no canonical form (the reason is for logs and tests, never shown)."""


def canonical_email(text: str) -> str:
    """The canonical form of `text`. Raises InvalidEmail when it has none."""
    if not isinstance(text, str):
        raise InvalidEmail("not a string")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidEmail("control character")
    form = unicodedata.normalize("NFKC", text).strip().lower()
    if not form.isascii():
        raise InvalidEmail("not ASCII after NFKC")
    if len(form) > MAX_LENGTH:
        raise InvalidEmail("too long")
    local, at, domain = form.rpartition("@")
    if not at:
        raise InvalidEmail("no @")
    _check_local(local)
    _check_domain(domain)
    return form


def _check_local(local: str) -> None:
    if len(local) > MAX_LOCAL:
        raise InvalidEmail("local part too long")
    # A dot-atom only: a quoted string (`"x"`, `"a b"`) has no single canonical spelling.
    if not all(_ATOM.fullmatch(atom) for atom in local.split(".")):
        raise InvalidEmail("local part is not a dot-atom")


def _check_domain(domain: str) -> None:
    labels = domain.split(".")
    # Two labels at least: `localhost` and other dotless names are no public mailbox.
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidEmail("domain is not a dotted host name")
    # An all-digit last label is an IP address written without brackets (`10.0.0.1`).
    if labels[-1].isdigit() or len(labels[-1]) < 2:
        raise InvalidEmail("domain has no top-level name")
