"""One JSON access line per request; never bodies, query strings, tokens or credentials."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from server.core.keys import REQUEST_ID, USER_ID
from server.http.request import client_ip, route_template
from server.observability.logs import ACCESS, access


def _loggable_path(request: web.Request) -> str:
    # Verification and reset links carry their token in the path: log the template instead.
    if "token" in request.match_info:
        return route_template(request)
    return request.path


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
                "requestId": request.get(REQUEST_ID),
                "method": request.method,
                "path": _loggable_path(request),
                "route": route_template(request),
                "status": status,
                "durationMs": round((time.perf_counter() - started) * 1000, 2),
                "ip": client_ip(request),
                "userId": request.get(USER_ID),
                "userAgent": request.headers.get("User-Agent"),
            })
