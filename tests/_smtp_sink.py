"""The test SMTP server: a real aiosmtpd server on a loopback port that keeps what it receives
(tests/conftest.py's smtp_server fixture starts one)."""

from __future__ import annotations

import asyncio
import email.policy
import re
import socket
import time
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a loopback port that keeps what it receives.

    No TLS and no AUTH: point mail at it with `smtp.starttls` false (the `smtp_config`
    fixture does). `stop()` then `start()` reuses the same port, to play an outage.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options  # aiosmtpd SMTP options: tls_context, authenticator, ...
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.messages: list[EmailMessage] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                      **self._options)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received_by(self, to: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == to]

    async def wait_for(self, to: str, within: float = 5.0, count: int = 1) -> EmailMessage:
        """The `count`-th message to `to` (1 = the first); fails the test if it does not
        arrive within `within` seconds."""
        deadline = time.monotonic() + within
        while len(self.received_by(to)) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"mail #{count} to {to} did not arrive within {within}s")
            await asyncio.sleep(0.02)
        return self.received_by(to)[count - 1]

    @staticmethod
    def parts(message: EmailMessage) -> tuple[str, str]:
        """The (text, html) bodies of a multipart/alternative message."""
        text, html = message.get_body(("plain",)), message.get_body(("html",))
        assert text is not None
        assert html is not None
        return text.get_content(), html.get_content()

    @classmethod
    def link(cls, message: EmailMessage, prefix: str) -> str:
        """The link starting with `prefix` in the text part (e.g. `.../verify-email?token=`)."""
        found = re.search(re.escape(prefix) + r"[^\s\"<>]*", cls.parts(message)[0])
        assert found is not None, f"no link starting with {prefix}"
        return found.group(0)
