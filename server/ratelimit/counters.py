"""Shared counter stores: atomic add-and-read with expiry, in MongoDB, Redis or (dev) memory."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from models import rate_limits

# (key, amount to add, moment the counter may be forgotten)
Hit = tuple[str, int, datetime]

# Failures that mean "the store is unreachable or too slow" (503), not a bug (500).
STORE_ERRORS: tuple[type[BaseException], ...] = (PyMongoError, RedisError, OSError, TimeoutError)


class Counters(Protocol):
    """Adds to several counters in one go and returns each new total, atomically per counter:
    concurrent callers anywhere never see the same total twice."""

    async def incr(self, hits: Sequence[Hit]) -> list[int]: ...

    async def close(self) -> None: ...


class MongoCounters:
    """Counters in the service's own database (models/rate_limits.py)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def incr(self, hits: Sequence[Hit]) -> list[int]:
        return await rate_limits.increment_many(self.db, hits)

    async def close(self) -> None:
        """The database client belongs to mongo_ctx."""


# One script call for every counter of a batch: one round trip, and atomic per key. The
# expiry is set only by the increment that created the key, so a window never stretches.
_INCR_SCRIPT = """
local totals = {}
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[2 * i - 1])
  local total = redis.call('INCRBY', key, amount)
  if total == amount then redis.call('PEXPIREAT', key, ARGV[2 * i]) end
  totals[i] = total
end
return totals
"""


class RedisCounters:
    """Counters in Redis (INCRBY + PEXPIREAT inside one Lua script)."""

    def __init__(self, url: str, timeout: timedelta) -> None:
        seconds = timeout.total_seconds()
        # No client-side retries: the caller's deadline is the whole budget for a round trip.
        self.client: Redis = Redis.from_url(url, socket_timeout=seconds,
                                            socket_connect_timeout=seconds,
                                            retry=Retry(NoBackoff(), 0))
        self.script = self.client.register_script(_INCR_SCRIPT)

    async def incr(self, hits: Sequence[Hit]) -> list[int]:
        keys = [key for key, _, _ in hits]
        args: list[int] = []
        for _, amount, expires in hits:
            args += [amount, math.ceil(expires.timestamp() * 1000)]
        totals = await self.script(keys=keys, args=args)
        return [int(total) for total in totals]

    async def close(self) -> None:
        await self.client.aclose()


class MemoryCounters:
    """Per-process counters for a single-worker development run (config refuses more)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.counts: dict[str, tuple[int, datetime]] = {}

    async def incr(self, hits: Sequence[Hit]) -> list[int]:
        now = self.clock()
        if len(self.counts) > 10_000:
            self.counts = {k: v for k, v in self.counts.items() if v[1] > now}
        totals = []
        for key, amount, expires in hits:
            total, until = self.counts.get(key, (0, expires))
            if until <= now:
                total, until = 0, expires
            self.counts[key] = (total + amount, until)
            totals.append(total + amount)
        return totals

    async def close(self) -> None:
        self.counts.clear()
