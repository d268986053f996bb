"""The test SMTP sink stops without leaking the socket of a session still open.

A full-suite run once failed at the teardown of an unrelated test
(test_oauth_introspect.py::TestInactiveOnceTheSessionEnds::test_password_reset) with
"ResourceWarning: unclosed transport <_SelectorSocketTransport ...>" raised from
_SelectorTransport.__del__: the notice mail of a password reset was being delivered as the
test ended, the app's Mailer.stop() cancelled the delivery, and the sink stopped next. The
leaked socket was the sink's own end of that session: aiosmtpd's Controller.stop() cancels
the session's task and stops its loop in the same breath, and on Python 3.11 the loop can
close before that task runs its clean-up, so the server transport is never closed and the
garbage collector warns whenever it next runs (pyproject turns that into an error).

This test plays that teardown at many moments of a delivery: start a real aiosmtplib
delivery, cancel it after k loop turns (or k half-milliseconds: the sink answers from its
own thread), stop the sink at once, collect garbage, and count ResourceWarnings. The window
is narrow: before the fix about 1 moment in 100 leaked, so it tries 240.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import warnings
from email.message import EmailMessage

import aiosmtplib

from tests.conftest import SmtpSink


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "gatehouse@example.com"
    message["To"] = "ada@example.com"
    message["Subject"] = "Your password was changed"
    message.set_content("A notice. " * 50)
    return message


async def _cut_short(port: int, turns: int, pause: float) -> None:
    delivery = asyncio.create_task(aiosmtplib.send(
        _message(), hostname="127.0.0.1", port=port, start_tls=False, timeout=2))
    for _ in range(turns):
        await asyncio.sleep(pause)
    delivery.cancel()
    with contextlib.suppress(asyncio.CancelledError, aiosmtplib.SMTPException, OSError):
        await delivery


async def test_stopping_mid_session_leaks_no_socket() -> None:
    leaks: list[str] = []
    moments = [(turns, 0.0) for turns in range(160)] + [(turns, 0.0005) for turns in range(80)]
    for turns, pause in moments:
        sink = SmtpSink()
        sink.start()
        try:
            await _cut_short(sink.port, turns, pause)
        finally:
            sink.stop()  # at once, as the fixture does right after the app's teardown
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            gc.collect()
        leaks += [f"after {turns} turns of {pause}s: {w.message}" for w in caught
                  if issubclass(w.category, ResourceWarning)]
    assert not leaks, "\n".join(leaks)
