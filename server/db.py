"""The MongoDB connection: the only module that imports Motor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase

from server.keys import CONFIG, DB

Database = AsyncIOMotorDatabase  # type: ignore[type-arg]

# Each model module registers `async def ensure_indexes(db)` here; run once per worker start.
IndexBuilder = Callable[[Any], Awaitable[None]]
INDEX_BUILDERS: list[IndexBuilder] = []


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
        maxPoolSize=pool_size,
        tz_aware=True,
        appname="gatehouse",
        **extra,
    )


async def ensure_indexes(db: Any) -> None:
    """Create every collection's indexes; idempotent."""
    for build in INDEX_BUILDERS:
        await build(db)


async def ping(db: Any) -> bool:
    """True when the database answers a ping within the client's timeouts."""
    try:
        await db.command("ping")
    except Exception:  # noqa: BLE001 - any failure means "down" to a readiness probe
        return False
    return True


async def mongo_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one client per worker, created inside it; indexes ensured at start."""
    config = app[CONFIG]
    client = make_client(config.mongodb.uri, config.mongodb.timeout.total_seconds(),
                         config.mongodb.max_pool_size)
    db = client[config.mongodb.database]
    app[DB] = db
    try:
        await ensure_indexes(db)
    except Exception:
        client.close()
        raise
    yield
    client.close()
