"""The mailer: `send()` queues into the outbox; a background sender delivers with retries.

Mail never blocks or fails a request: `send()` is one insert, and delivery happens in a
task each worker runs for its lifetime. A failed delivery is retried with exponential
back-off (mail.retry_delay doubling up to mail.retry_max_delay) until mail.max_attempts,
so nothing is lost while the SMTP server is down. A sender that dies holding a message
loses it when its claim (mail.claim_lease) runs out, and another sender delivers it.
A guarded message (models/outbox.py) goes out only once a user holds its link's token.
Logs name the recipient and subject, never the body: it holds a link with a token
(API.md: logs never contain a mailed link).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from models import outbox, users
from models.outbox import Guard, OutgoingMail
from server.core.clock import utcnow
from server.core.config import MailConfig
from server.core.keys import CONFIG
from server.db import DB, SCHEMA
from server.mail.backends import Backend, describe, make_backend
from server.mail.backends import SmtpBackend as SmtpBackend  # re-exported for callers
from server.mail.messages import to_mime

log = logging.getLogger("gatehouse.mail")
# How long a guarded message waits for its flow to store the token (one database write
# after the queueing, so seconds at most); later it is cancelled: that flow died or failed.
GUARD_GRACE = timedelta(seconds=60)
_FIRST_RECHECK = timedelta(milliseconds=200)
_RELEASED_KEPT = 10_000


class Mailer:
    """Queue mail in the outbox and run the sender that delivers it."""

    def __init__(self, db: Any, config: MailConfig, *, backend: Backend | None = None,
                 poll_interval: float | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 ready: asyncio.Event | None = None) -> None:
        self._db = db
        # The sender starts scanning once the outbox has its indexes (set: at once).
        self._ready = ready
        self._config = config
        self._backend = backend or make_backend(config)
        self._poll = (config.poll_interval.total_seconds() if poll_interval is None
                      else poll_interval)
        self._clock = clock
        # One delivery may take several SMTP round trips, each bounded by smtp.timeout; it
        # is cut off well before the lease ends (config checks mail.claim_lease against
        # it), so a live claimer never loses its claim.
        self._deadline = 3 * config.smtp.timeout.total_seconds()
        self._lease = config.claim_lease
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._released: dict[str, None] = {}  # guarded ids whose token is stored, in order

    async def send(self, mail: OutgoingMail, *, guard: Guard | None = None) -> str:
        """Queue a message; one database insert, no SMTP; returns its outbox id. Raises only
        if the DB does. A guarded message is queued before its token is stored: the caller
        stores the token, then calls release() (or discard() when the flow fails)."""
        message_id = await outbox.enqueue(self._db, mail, self._clock(), guard=guard)
        if guard is None:
            self._wake.set()
        return message_id

    def release(self, message_id: str) -> None:
        """The flow that queued this guarded message stored its token: send it now. This
        worker's sender then skips the guard lookup; any other sender (this worker died)
        looks the token up on the users collection."""
        self._released[message_id] = None
        while len(self._released) > _RELEASED_KEPT:  # others' deliveries never pop theirs
            del self._released[next(iter(self._released))]
        self._wake.set()

    async def discard(self, message_id: str) -> None:
        """Drop a queued message whose flow failed before storing its token."""
        await outbox.discard(self._db, message_id)

    @property
    def running(self) -> bool:
        """True while the background sender task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Run the sender in the background of the current event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gatehouse-mail-sender")

    async def stop(self) -> None:
        """Cancel the sender; a delivery cut short is retried once its lease ends."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_once(self) -> int:
        """Attempt every message due now; returns how many attempts were made."""
        attempts, more = 0, True
        while more:
            attempted, more = await self._attempt_next()
            attempts += attempted
        return attempts

    async def _run(self) -> None:
        task = asyncio.current_task()
        if self._ready is not None:
            await self._ready.wait()
        while True:
            # Cleared before draining: a send() during the drain sets it again, so no wake-up
            # is lost and the loop goes straight round.
            self._wake.clear()
            try:
                await self.run_once()
            except Exception as exc:  # the sender must outlive database outages
                log.warning("mail sender: outbox unavailable, will retry",
                            extra={"fields": {"error": describe(exc)}})
            # Python 3.11's wait_for (aiosmtplib reads replies with it) can swallow a
            # cancellation that lands as a reply arrives; it stays counted on the task:
            # honour it before waiting, or stop() (and a worker's shutdown) waits out the
            # whole poll interval (a test's stop() took 60 s), or forever.
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()

    async def _attempt_next(self) -> tuple[bool, bool]:
        """Attempt the next due message: (whether one was attempted, whether another one was
        due). Messages queued or released meanwhile set the wake event, so stopping when
        none other was due loses none."""
        claim = uuid.uuid4().hex
        message, more = await outbox.claim_next(self._db, self._clock(), self._lease, claim)
        if message is None:
            return False, False
        guard = message.guard
        released = message.id in self._released
        self._released.pop(message.id, None)
        if guard is not None and not released \
                and not await users.holds_token(self._db, guard.field, guard.token_hash):
            await self._unwanted(message, claim)
        else:
            await self._deliver(message, claim)
        return True, more

    async def _unwanted(self, message: outbox.OutboxMessage, claim: str) -> None:
        """A guarded message whose token no user holds: not yet (look again, sooner while
        young), or never (cancel it: its flow died or failed, or a newer link replaced it)."""
        now = self._clock()
        age = now - message.created_at
        if age < GUARD_GRACE:
            wait = min(max(age, _FIRST_RECHECK), GUARD_GRACE - age)
            await outbox.defer(self._db, message.id, claim, now + wait)
            return
        await outbox.cancel(self._db, message.id, claim, now)
        log.info("mail cancelled: no user holds its link", extra={"fields": {
            "outboxId": message.id, "to": message.to, "subject": message.subject}})

    async def _deliver(self, message: outbox.OutboxMessage, claim: str) -> None:
        mail = OutgoingMail(message.to, message.subject, message.text, message.html)
        try:
            mime = to_mime(mail, self._config.sender, message.id, message.created_at)
        except ValueError as exc:  # unencodable headers stay so: retrying cannot help
            await self._failed(message, claim, describe(exc), permanent=True)
            return
        try:
            async with asyncio.timeout(self._deadline):
                await self._backend.deliver(mime)
        except Exception as exc:  # any failure is retried, never raised
            await self._failed(message, claim, describe(exc))
        else:
            await outbox.mark_sent(self._db, message.id, claim, self._clock())
            log.info("mail sent", extra={"fields": {
                "outboxId": message.id, "to": message.to, "subject": message.subject,
                "attempts": message.attempts}})

    async def _failed(self, message: outbox.OutboxMessage, claim: str, error: str, *,
                      permanent: bool = False) -> None:
        fields = {"outboxId": message.id, "to": message.to, "subject": message.subject,
                  "attempts": message.attempts, "error": error}
        now = self._clock()
        if permanent or message.attempts >= self._config.max_attempts:
            await outbox.mark_failed(self._db, message.id, claim, now, error)
            log.error("mail failed permanently", extra={"fields": fields})
            return
        delay = self.backoff(message.attempts)
        await outbox.schedule_retry(self._db, message.id, claim, now + delay, error)
        log.warning("mail delivery failed, will retry",
                    extra={"fields": {**fields, "retryIn": delay.total_seconds()}})

    def backoff(self, attempts: int) -> timedelta:
        """Delay after the n-th failed attempt: retry_delay * 2**(n-1), capped."""
        cap = self._config.retry_max_delay.total_seconds()
        base = self._config.retry_delay.total_seconds()
        # In float seconds with a bounded exponent: huge attempt counts cannot overflow.
        return timedelta(seconds=min(base * 2.0 ** min(attempts - 1, 60), cap))


MAILER = web.AppKey("mailer", Mailer)


async def mailer_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after mongo_ctx): the worker's Mailer (app[MAILER]) and its sender, for
    the app's lifetime; the sender waits for the schema step, so it starts with no database."""
    mailer = Mailer(app[DB], app[CONFIG].mail, ready=app[SCHEMA].ready)
    app[MAILER] = mailer
    mailer.start()
    yield
    await mailer.stop()
