"""The mail sender stops when asked, even if a delivery swallowed the cancellation.

Python 3.11's asyncio.wait_for (aiosmtplib reads every SMTP reply with it) can swallow a
cancellation that lands just as the awaited reply arrives. The sender then went round its
loop for ever and `Mailer.stop()` (every worker's shutdown, every test's teardown) never
returned (fixed in 2a2f6f2; this test comes from the branch that found it).
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

from models.outbox import OutgoingMail
from server.core.config import Config
from server.mail.sender import Mailer


class SwallowingBackend:
    """A backend that, like wait_for in 3.11, eats the first cancellation and returns."""

    def __init__(self) -> None:
        self.delivering = asyncio.Event()

    async def deliver(self, message: EmailMessage) -> None:
        self.delivering.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return  # swallowed, as the reply "arrived" at the same moment


async def test_stop_returns_when_a_delivery_swallowed_the_cancel(db: Any,
                                                                 config: Config) -> None:
    backend = SwallowingBackend()
    # Idle polls far apart, as in production: stop() must not wait for the next one.
    mailer = Mailer(db, config.mail, backend=backend, poll_interval=60)
    mailer.start()
    await mailer.send(OutgoingMail("ann@example.com", "Hello", "text", "<p>html</p>"))
    await asyncio.wait_for(backend.delivering.wait(), 5)
    sender = mailer._task
    assert sender is not None
    # asyncio.wait, not wait_for: its own cancel on timeout would be a second cancellation.
    stopping = asyncio.create_task(mailer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=3)
    try:
        assert stopping in done, "Mailer.stop() did not return"
    finally:
        while not sender.done():  # do not leak a looping sender into other tests
            sender.cancel()
            await asyncio.wait({sender}, timeout=0.5)
        await asyncio.wait({stopping})
