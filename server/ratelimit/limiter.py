"""Fixed-window budgets: which window a request falls in, its count, and what the client sees."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from server.ratelimit.batcher import Batcher
from server.ratelimit.counters import Counters


@dataclass(frozen=True, slots=True)
class Budget:
    """`limit` requests per `window`; `name` labels the metric and prefixes the store key."""

    name: str
    limit: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class Usage:
    """Where one request stands in one budget: its ordinal in the current window."""

    budget: Budget
    count: int
    reset_at: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.budget.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.budget.limit

    def reset_after(self, now: datetime) -> int:
        """Whole seconds until the window ends (rounded up, so waiting that long suffices)."""
        return max(1, math.ceil((self.reset_at - now).total_seconds()))


def window_of(now: datetime, window: timedelta) -> tuple[int, datetime]:
    """(start in epoch milliseconds, end) of the fixed window holding `now`. Windows are
    aligned to the epoch, so every worker and host computes the same key for a moment."""
    size_ms = max(1, int(window.total_seconds() * 1000))
    start_ms = int(now.timestamp() * 1000) // size_ms * size_ms
    return start_ms, datetime.fromtimestamp((start_ms + size_ms) / 1000, UTC)


class RateLimiter:
    """Counts a request against each of its budgets in the shared store."""

    def __init__(self, counters: Counters, timeout: timedelta) -> None:
        self.counters = counters
        self.batcher = Batcher(counters, timeout)
        # Keys already spent in their window: counts only grow within a window, so further
        # requests are refused here without a round trip (and without inflating the count).
        self.spent: dict[str, datetime] = {}

    async def check(self, demands: Sequence[tuple[Budget, str]], now: datetime) -> list[Usage]:
        """One Usage per (budget, subject). Raises ServiceUnavailable when the store is down."""
        keyed = []
        for budget, subject in demands:
            start, end = window_of(now, budget.window)
            keyed.append((budget, f"{budget.name}:{subject}:{start}", end))
        # Every spent budget, not just the first: the client must wait for the last of them.
        refused = [Usage(budget, budget.limit + 1, end) for budget, key, end in keyed
                   if self.spent.get(key, now) > now]
        if refused:
            return refused
        # The store keeps a counter one window past its end: a host whose clock runs a little
        # behind still finds it, instead of re-creating it at zero.
        counts = await self.batcher.hit([(key, end + budget.window)
                                         for budget, key, end in keyed])
        usages = []
        for (budget, key, end), count in zip(keyed, counts, strict=True):
            if count >= budget.limit:
                self._mark_spent(key, end, now)
            usages.append(Usage(budget, count, end))
        return usages

    def _mark_spent(self, key: str, until: datetime, now: datetime) -> None:
        if len(self.spent) > 10_000:
            self.spent = {k: v for k, v in self.spent.items() if v > now}
        self.spent[key] = until

    async def close(self) -> None:
        await self.counters.close()


def most_constraining(usages: Sequence[Usage]) -> Usage:
    """The budget a client should watch: an exceeded one that frees up last, else the one
    with the fewest requests left (ties: the later reset)."""
    over = [u for u in usages if u.exceeded]
    if over:
        return max(over, key=lambda u: u.reset_at)
    return min(usages, key=lambda u: (u.remaining, -u.reset_at.timestamp()))


def usage_headers(usage: Usage, now: datetime) -> dict[str, str]:
    """The RateLimit-* response headers (IETF draft-6 style, as express-rate-limit sends)."""
    return {"RateLimit-Limit": str(usage.budget.limit),
            "RateLimit-Remaining": str(usage.remaining),
            "RateLimit-Reset": str(usage.reset_after(now))}
