"""Reject oversized bodies (413) and bodies that are neither JSON nor form-encoded (415)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from server.core.errors import PayloadTooLarge, UnsupportedMediaType

ACCEPTED_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded"})


def body_guard_middleware(max_body_size: int) -> web.middleware:  # type: ignore[valid-type]
    @web.middleware
    async def body_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            length = request.content_length
            # Chunked bodies have no length; the app's client_max_size stops them on read.
            if length is not None and length > max_body_size:
                raise PayloadTooLarge()
            # A chunked body has no length either, so its type is checked all the same;
            # an empty body (Content-Length: 0) has body_exists False and needs no type.
            if request.content_type not in ACCEPTED_TYPES:
                raise UnsupportedMediaType()
        return await handler(request)

    return body_guard
