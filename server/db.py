"""The MongoDB connection: the only module that imports Motor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from pymongo import monitoring

from models import login_failures, outbox, rate_limits, sessions, users
from server.core.keys import CONFIG
from server.observability.metrics import METRICS

Database = AsyncIOMotorDatabase
DB: web.AppKey[AsyncIOMotorDatabase[Any]] = web.AppKey("db")

# Every collection's model, each with `async def ensure_indexes(db)`: one explicit list, so
# whatever a caller imported, every collection gets its indexes.
MODELS = (users, sessions, outbox, rate_limits, login_failures)


def make_client(uri: str, timeout_s: float, pool_size: int,
                **extra: Any) -> AsyncIOMotorClient:  # type: ignore[type-arg]
    """A Motor client whose every wait is bounded, so an outage becomes a 503 quickly."""
    ms = int(timeout_s * 1000)
    return AsyncIOMotorClient(
        uri,
        serverSelectionTimeoutMS=ms,
        connectTimeoutMS=ms,
        socketTimeoutMS=ms,
        waitQueueTimeoutMS=ms,
        # Caps a whole operation, retries included: pymongo retries a read once after a
        # socket timeout, so without it a hung server costs ~3x the timeout (contract: 3 s).
        timeoutMS=ms,
        maxPoolSize=pool_size,
        tz_aware=True,
        appname="gatehouse",
        **extra,
    )


class CommandCounter(monitoring.CommandListener):
    """Counts every command the driver sends (gatehouse_db_commands_total), so round trips per
    request can be measured; runs in the driver's threads, and a counter increment is cheap."""

    def __init__(self, counter: Any) -> None:
        self._counter = counter
        self._children: dict[str, Any] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        child = self._children.get(event.command_name)
        if child is None:
            child = self._children[event.command_name] = self._counter.labels(event.command_name)
        child.inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def ensure_indexes(db: Any) -> None:
    """Create every collection's indexes; idempotent."""
    for model in MODELS:
        await model.ensure_indexes(db)


async def ping(db: Any) -> bool:
    """True when the database answers a ping within the client's timeouts."""
    try:
        await db.command("ping")
    except Exception:
        return False
    return True


async def mongo_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one client per worker, created inside it; indexes ensured at start."""
    config = app[CONFIG]
    metrics = app.get(METRICS)
    listeners = [CommandCounter(metrics.db_commands)] if metrics is not None else []
    client = make_client(config.mongodb.uri, config.mongodb.timeout.total_seconds(),
                         config.mongodb.max_pool_size, event_listeners=listeners)
    db = client[config.mongodb.database]
    app[DB] = db
    try:
        await ensure_indexes(db)
    except Exception:
        client.close()
        raise
    yield
    client.close()
