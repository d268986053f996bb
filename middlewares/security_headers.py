"""helmet-equivalent security headers on every response the chain returns, errors included."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from server.http.headers import stamp


@web.middleware
async def security_headers_middleware(request: web.Request,
                                      handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    stamp(request, response)
    return response
