"""The MongoDB connection (the only module that imports Motor) and the keeping of the schema
step (server/schema.py) going until the database answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from pymongo import monitoring

from server.core.keys import CONFIG
from server.observability.metrics import METRICS
from server.schema import MIGRATIONS as MIGRATIONS  # re-exported: one schema step
from server.schema import MODELS as MODELS
from server.schema import Prepared as Prepared
from server.schema import ensure_indexes as ensure_indexes
from server.schema import index_fingerprint as index_fingerprint
from server.schema import lease_holder
from server.schema import prepare_schema as prepare_schema

LOG = logging.getLogger("gatehouse.db")

Database = AsyncIOMotorDatabase
DB: web.AppKey[AsyncIOMotorDatabase[Any]] = web.AppKey("db")

_RETRY_S = (0.5, 2.0)  # back-off between failed attempts: first, cap
_PROBE_S = 0.02  # how often a wait for the first attempt looks at the driver's monitor


def make_client(uri: str, timeout_s: float, pool_size: int,
                **extra: Any) -> AsyncIOMotorClient:  # type: ignore[type-arg]
    """A Motor client whose every wait is bounded, so an outage becomes a 503 quickly. At most
    `pool_size` connections, unless the URI sets maxPoolSize (an operator's URI option wins)."""
    ms = int(timeout_s * 1000)
    if "maxpoolsize" not in _uri_options(uri):
        extra["maxPoolSize"] = pool_size
    return AsyncIOMotorClient(
        uri,
        serverSelectionTimeoutMS=ms,
        connectTimeoutMS=ms,
        socketTimeoutMS=ms,
        waitQueueTimeoutMS=ms,
        # Caps a whole operation, retries included: pymongo retries a read once after a
        # socket timeout, so without it a hung server costs ~3x the timeout (contract: 3 s).
        timeoutMS=ms,
        tz_aware=True,
        appname="gatehouse",
        **extra,
    )


def _uri_options(uri: str) -> set[str]:
    """The names of the options in a MongoDB URI's query, lower-cased (they are
    case-insensitive)."""
    return {name.lower() for name in urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)}


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


class SchemaStatus:
    """Whether this worker's database has this code's schema; `ready` is set once, for good."""

    def __init__(self, unreachable: Callable[[], bool] = lambda: False) -> None:
        self.ready = asyncio.Event()
        # Set once an attempt has ended either way: until then a request may wait for it.
        self.settled = asyncio.Event()
        self._unreachable = unreachable

    async def wait(self, limit_s: float) -> bool:
        """True when ready. Until the first attempt ends, waits for it up to `limit_s`, but
        not once the driver has found the database unreachable (a refused connection is
        known in milliseconds, long before server selection gives up)."""
        deadline = time.monotonic() + limit_s
        while not self.settled.is_set() and not self._unreachable():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, _PROBE_S)):
                    await self.settled.wait()
        return self.ready.is_set()


def unreachable(client: Any) -> bool:
    """True when the driver's monitor has tried the database and failed to reach it."""
    servers = client.topology_description.server_descriptions().values()
    return any(server.error is not None for server in servers)


SCHEMA = web.AppKey("schema", SchemaStatus)


def error_fields(exc: BaseException) -> dict[str, Any]:
    """What a log may say of a database error: its class and stable code name, never its
    message (it can carry hosts or credentials)."""
    details = getattr(exc, "details", None)
    code = details.get("codeName") if isinstance(details, dict) else None
    return {"error": type(exc).__name__, "code": code}


async def keep_preparing(db: Any, status: SchemaStatus) -> None:
    """Run the schema step until it succeeds; the worker serves meanwhile (issue 12 item 1).
    Logs an outage once, not once per attempt, and the recovery."""
    started, delay, last = time.monotonic(), _RETRY_S[0], None
    holder = lease_holder()  # the same on every attempt: a lease we held is ours again
    while True:
        try:
            prepared = await prepare_schema(db, holder=holder)
        except Exception as exc:  # whatever the database does, the worker must live on
            status.settled.set()
            fields = error_fields(exc)
            if fields != last:
                LOG.warning("database not ready; retrying",
                            extra={"fields": {"event": "db_unavailable", **fields}})
                last = fields
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_S[1])
            continue
        status.ready.set()
        status.settled.set()
        LOG.info("database ready", extra={"fields": {
            "event": "db_ready", "migrations": list(prepared.migrations),
            "indexes_built": prepared.indexes_built,
            "waited_s": round(time.monotonic() - started, 3)}})
        return


async def ping(db: Any) -> bool:
    """True when the database answers a ping within the client's timeouts."""
    try:
        await db.command("ping")
    except Exception:
        return False
    return True


async def mongo_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one client per worker, created inside it. The schema step runs in the
    background, so a worker starts whether or not the database answers (app[SCHEMA] says
    when it is ready). Startup waits for its first attempt only while the database may be
    there (at most one call's timeout): with the database up, a worker serves with its
    schema in place, so a reload never hands requests to a worker that would hold them."""
    config = app[CONFIG]
    metrics = app.get(METRICS)
    listeners = [CommandCounter(metrics.db_commands)] if metrics is not None else []
    client = make_client(config.mongodb.uri, config.mongodb.timeout.total_seconds(),
                         config.mongodb.max_pool_size, event_listeners=listeners)
    db = client[config.mongodb.database]
    app[DB] = db
    status = app[SCHEMA] = SchemaStatus(lambda: unreachable(client))
    task = asyncio.create_task(keep_preparing(db, status), name="gatehouse-schema")
    await status.wait(config.mongodb.timeout.total_seconds())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    client.close()
