"""One JSON access line per request; never bodies, query strings, tokens or credentials."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from server.core.keys import CLIENT_IP, LOG_PATH, REQUEST_ID, USER_ID
from server.http.request import route_template
from server.observability.logs import ACCESS, access


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        if ACCESS.isEnabledFor(logging.INFO):
            access({
                "requestId": request[REQUEST_ID],
                "method": request.method,
                # Verification and reset links carry a token: these show the template.
                "path": request[LOG_PATH],
                "route": route_template(request),
                "status": status,
                "durationMs": round((time.perf_counter() - started) * 1000, 2),
                "ip": request[CLIENT_IP],
                "userId": request.get(USER_ID),
                "userAgent": request.headers.get("User-Agent"),
            })
