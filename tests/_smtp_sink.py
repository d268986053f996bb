"""The test SMTP server: a real aiosmtpd server on a loopback port that keeps what it receives
(tests/conftest.py's smtp_server fixture starts one)."""

from __future__ import annotations

import asyncio
import email.policy
import re
import socket
import time
import weakref
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class _SinkController(Controller):
    """aiosmtpd's Controller, keeping its sessions so stop() can close them first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory(self) -> SMTP:
        session = super().factory()
        self.sessions.add(session)
        return session

    async def close_sessions(self) -> None:
        """In the sink's loop: refuse new connections, then close every session's transport
        until no task is left (a connection being accepted becomes a session first), so no
        socket outlives the loop. Cancelling the tasks instead, as Controller.stop() does,
        can drop an accepted socket whose task never started."""
        if self.server is not None:
            self.server.close()
        current = asyncio.current_task()
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            for session in list(self.sessions):
                if session.transport is not None:
                    session.transport.close()
            if not any(task is not current for task in asyncio.all_tasks()):
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0)  # a closed transport frees its socket one loop turn later


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
        self._controller: _SinkController | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def start(self) -> None:
        self._controller = _SinkController(self, hostname="127.0.0.1", port=self.port,
                                           **self._options)
        self._controller.start()

    def stop(self) -> None:
        """Close the open sessions, then stop. Controller.stop() alone cancels a session's
        task and stops the loop at once: on Python 3.11 the loop can close before that
        task closes its transport, and the socket's ResourceWarning then fails whichever
        test the garbage collector next runs in (a client cut short mid-delivery, e.g. by
        Mailer.stop() as an app's teardown, leaves such a session behind)."""
        controller, self._controller = self._controller, None
        if controller is not None:
            asyncio.run_coroutine_threadsafe(controller.close_sessions(),
                                             controller.loop).result(5)
            controller.stop()

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
