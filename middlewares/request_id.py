"""Request ids: keep a well-formed incoming X-Request-ID, otherwise mint one; echo it always."""

from __future__ import annotations

import os
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from server.core.keys import REQUEST_ID

HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def pick_request_id(incoming: str | None) -> str:
    """The incoming id when it matches the contract's pattern, else a fresh one."""
    if incoming and _WELL_FORMED.fullmatch(incoming):
        return incoming
    # Same 32 hex digits as uuid4().hex, without building a UUID object on every request.
    return os.urandom(16).hex()


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = pick_request_id(request.headers.get(HEADER))
    request[REQUEST_ID] = request_id
    response = await handler(request)
    response.headers[HEADER] = request_id
    return response
