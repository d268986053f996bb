"""Compress responses of 1 KiB or more (gzip or deflate, as the client accepts)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

MIN_SIZE = 1024


@web.middleware
async def compression_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if (
        isinstance(response, web.Response)
        and response.body is not None
        and len(response.body) >= MIN_SIZE  # type: ignore[arg-type]
        and "Content-Encoding" not in response.headers
        and request.headers.get("Accept-Encoding")
    ):
        # aiohttp picks gzip or deflate from Accept-Encoding and sets Vary.
        response.enable_compression()
    return response
