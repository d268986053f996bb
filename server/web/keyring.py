"""cleanup_ctx of the worker's KeyRing: load the signing keys as soon as the schema is in place
(so the first start creates the first key), without holding the worker's start up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from server.core.keys import CLOCK
from server.db import DB, SCHEMA
from server.signing import KEYRING

LOG = logging.getLogger("gatehouse.signing")


async def keyring_ctx(app: web.Application) -> AsyncIterator[None]:
    """After mongo_ctx (it needs app[DB] and app[SCHEMA]). A failed load is only logged: the
    first request that needs the keys tries again."""
    ring = app[KEYRING]

    async def load() -> None:
        await app[SCHEMA].ready.wait()  # the unique index makes racing creation safe
        try:
            await ring.current(app[DB], app[CLOCK]())
        except Exception as exc:  # the database may have gone again: requests retry
            LOG.warning("signing keys not loaded at start", extra={"fields": {
                "event": "signing_keys_unavailable", "error": type(exc).__name__}})

    task = None if ring.static else asyncio.create_task(load(), name="gatehouse-keyring")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
