"""Helpers for the notice tests: a mail by subject, and what a token in a mail looks like."""

from __future__ import annotations

import asyncio
import re
import time
from email.message import EmailMessage

import pytest

from tests.conftest import SmtpSink

# What a mailed token looks like (server.security.new_token: 43 URL-safe characters); any
# run this long of that alphabet in a notice is treated as one.
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-]{20,}")


async def mail_to(sink: SmtpSink, to: str, subject: str, within: float = 5.0) -> EmailMessage:
    """The first mail to `to` with this subject; fails the test if none arrives in time."""
    deadline = time.monotonic() + within
    while True:
        for message in sink.received_by(to):
            if message["Subject"] == subject:
                return message
        if time.monotonic() > deadline:
            pytest.fail(f"no mail {subject!r} to {to} within {within}s")
        await asyncio.sleep(0.02)


def subjects(sink: SmtpSink, to: str) -> list[str]:
    return [str(m["Subject"]) for m in sink.received_by(to)]


def assert_no_token(message: EmailMessage) -> None:
    """A notice carries neither a token nor a link that acts (nor any link at all)."""
    text, html = SmtpSink.parts(message)
    for part in (text, html):
        assert "token=" not in part
        assert "http://" not in part
        assert "https://" not in part
        assert "<a " not in part
        assert TOKEN_LIKE.search(part) is None, TOKEN_LIKE.search(part)
