"""The two response shapes of the contract: success `ok(...)` and the error `envelope(...)`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from server.core.clock import iso, utcnow
from server.core.errors import FieldError
from server.core.keys import REQUEST_ID


def json_response(payload: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> web.Response:
    """orjson-encoded JSON response (datetimes must already be ISO strings)."""
    return web.Response(body=orjson.dumps(payload), status=status, headers=headers,
                        content_type="application/json")


def ok(data: Mapping[str, Any] | None = None, message: str | None = None,
       status: int = 200) -> web.Response:
    """`{"success": true, "message"?, "data"?}`."""
    payload: dict[str, Any] = {"success": True}
    if message is not None:
        payload["message"] = message
    if data is not None:
        payload["data"] = data
    return json_response(payload, status)


def envelope(request: web.Request, status: int, message: str, code: str, *,
             errors: list[FieldError] | None = None, extra: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None) -> web.Response:
    """The error body of every 4xx/5xx; never carries driver text, tokens or hashes."""
    payload: dict[str, Any] = {
        "success": False,
        "error": message,
        "code": code,
        "requestId": request.get(REQUEST_ID, ""),
        "timestamp": iso(utcnow()),
    }
    if errors:
        payload["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    if extra:
        payload.update(extra)
    return json_response(payload, status, headers)
