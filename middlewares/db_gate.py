"""Holds API requests back until the database has this code's indexes and migrations."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from server.core.errors import ServiceUnavailable
from server.core.http import API_PREFIX
from server.db import SCHEMA


def db_gate_middleware(timeout_s: float) -> Middleware:
    """503 for every API route until the schema step has succeeded (issue 12 item 1): before
    it, a write could land without its unique index, or in a shape a migration changes.

    While the step's first attempt runs, a request waits for it up to `timeout_s` (the
    database's own bound, so the 503 still comes within the contract's 3 s); once an attempt
    has failed, requests are refused at once until one succeeds."""

    @web.middleware
    async def db_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Unmatched paths (404/405) and CORS preflights need no database.
        if (request.path.startswith(API_PREFIX + "/") and request.method != "OPTIONS"
                and request.match_info.http_exception is None
                and not await request.app[SCHEMA].wait(timeout_s)):
            raise ServiceUnavailable()
        return await handler(request)

    return db_gate
