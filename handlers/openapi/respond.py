"""Success bodies, serialised by the schema the route's `@success` documents for the status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from handlers.openapi.serializer import Serializer
from handlers.schemas.envelopes import success_body
from server.http.responses import json_response


def serializer_of(request: web.Request, status: int) -> Serializer:
    """The serializer the matched route's handler declared with `@success(..., status)`.
    Raises LookupError when it declared none (a route bug its tests catch)."""
    handler = request.match_info.route.handler
    found: Mapping[int, Serializer] = getattr(handler, "__serializers__", {})
    if status not in found:
        raise LookupError(f"{request.method} {request.path}: no @success for {status}")
    return found[status]


def render(request: web.Request, body: Any, status: int = 200) -> web.Response:
    """A JSON response of `body` (a mapping or a model) as the route documents it."""
    return json_response(serializer_of(request, status)(body), status)


def respond(request: web.Request, data: Any = None, *, message: str | None = None,
            status: int = 200) -> web.Response:
    """`{"success": true, "message"?, "data"?}`, `data` serialised as the route documents it:
    pass models and values under the schema's attribute names (`{"user": user}`)."""
    return render(request, success_body(data, message), status)
