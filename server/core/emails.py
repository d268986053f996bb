"""The canonical form of an email address: the one place it is defined."""

from __future__ import annotations


def canonical_email(text: str) -> str:
    """Trimmed and lower-cased: the form stored, compared and looked up everywhere."""
    return text.strip().lower()
