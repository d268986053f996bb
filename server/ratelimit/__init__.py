"""Shared rate-limit budgets: the limiter, its store and the per-worker lifecycle (issue 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from server.core.config import Config, check_rate_limit
from server.core.keys import CLOCK, CONFIG
from server.db import DB
from server.observability.logs import APP
from server.ratelimit.counters import Counters, MemoryCounters, MongoCounters, RedisCounters
from server.ratelimit.limiter import Budget, RateLimiter, Usage, most_constraining, usage_headers

__all__ = ["LIMITER", "Budget", "RateLimiter", "Usage", "most_constraining", "rate_limit_ctx",
           "usage_headers"]

LIMITER = web.AppKey("rate_limiter", RateLimiter)


def make_counters(app: web.Application, config: Config) -> Counters:
    """The store named by rate_limit.store (mongodb: the service's own database)."""
    limits = config.rate_limit
    if limits.store == "redis":
        return RedisCounters(limits.redis_url, limits.timeout)
    if limits.store == "memory":
        APP.warning("rate_limit.store is memory: counts are per process and lost on restart; "
                    "use it only for a single-worker development run")
        return MemoryCounters(app[CLOCK])
    return MongoCounters(app[DB])


async def rate_limit_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after mongo_ctx): one limiter per worker, created inside it."""
    config = app[CONFIG]
    if not config.rate_limit.enabled:
        yield
        return
    # Again here: run.py's --workers flag is applied after load_config checked the file.
    check_rate_limit(config)
    limiter = RateLimiter(make_counters(app, config), config.rate_limit.timeout)
    app[LIMITER] = limiter
    yield
    await limiter.close()
