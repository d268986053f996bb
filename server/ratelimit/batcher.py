"""Coalesces concurrent increments within a worker into one store round trip per batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from server.core.errors import ServiceUnavailable
from server.observability.logs import APP
from server.ratelimit.counters import STORE_ERRORS, Counters, Hit


@dataclass(slots=True)
class _Ticket:
    """One request's wait: its ordinal for each of its keys, filled in by one flush."""

    future: asyncio.Future[list[int]]
    ordinals: list[int]


@dataclass(slots=True)
class _Slot:
    expires_at: datetime
    waiters: list[tuple[_Ticket, int]] = field(default_factory=list)  # (ticket, key index)


class Batcher:
    """`await hit([(key, expires_at), ...])` returns this request's ordinal in each key's window.

    At most one round trip is in flight per worker. Hits arriving meanwhile queue up and go
    out together as one `+k` per key; the store's new total T then hands the k waiters the
    ordinals T-k+1 .. T. The store assigns every ordinal exactly once across all workers and
    hosts, so "allowed iff ordinal <= limit" admits exactly the budget, never a multiple."""

    def __init__(self, counters: Counters, timeout: timedelta) -> None:
        self.counters = counters
        self.timeout = timeout.total_seconds()
        self.pending: dict[str, _Slot] = {}
        self.flushing = False
        self._task: asyncio.Task[None] | None = None

    async def hit(self, keys: Sequence[tuple[str, datetime]]) -> list[int]:
        """Raises ServiceUnavailable when the store fails or misses the deadline."""
        loop = asyncio.get_running_loop()
        # All keys of a request join the same batch: one wait, one round trip.
        ticket = _Ticket(loop.create_future(), [0] * len(keys))
        for index, (key, expires_at) in enumerate(keys):
            slot = self.pending.get(key)
            if slot is None:
                slot = self.pending[key] = _Slot(expires_at)
            slot.waiters.append((ticket, index))
        if not self.flushing:
            self.flushing = True
            # call_soon, not now: requests arriving in this loop iteration join the batch.
            loop.call_soon(self._start)
        return await ticket.future

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending, {}
                await self._flush(batch)
        finally:
            self.flushing = False

    async def _flush(self, batch: dict[str, _Slot]) -> None:
        hits: list[Hit] = [(key, len(slot.waiters), slot.expires_at) for key, slot in batch.items()]
        try:
            async with asyncio.timeout(self.timeout):
                totals = await self.counters.incr(hits)
        except STORE_ERRORS as exc:
            # The class name only: driver messages may carry hosts or credentials.
            APP.warning("rate limit store unavailable",
                        extra={"fields": {"error": type(exc).__name__}})
            # Hits that queued behind the failed trip fail with it rather than wait out a
            # second deadline: the contract's 503 comes within one timeout, never two.
            queued, self.pending = self.pending, {}
            _fail(batch, ServiceUnavailable())
            _fail(queued, ServiceUnavailable())
            return
        except Exception as exc:  # a bug: let each waiting request report it as a 500
            _fail(batch, exc)
            return
        tickets = []
        for (_, amount, _), total, slot in zip(hits, totals, batch.values(), strict=True):
            for offset, (ticket, index) in enumerate(slot.waiters):
                ticket.ordinals[index] = total - amount + 1 + offset
                if index == 0:
                    tickets.append(ticket)
        for ticket in tickets:
            if not ticket.future.done():  # a client that went away still counted
                ticket.future.set_result(ticket.ordinals)


def _fail(batch: dict[str, _Slot], error: BaseException) -> None:
    for slot in batch.values():
        for ticket, _ in slot.waiters:
            if not ticket.future.done():
                ticket.future.set_exception(error)
