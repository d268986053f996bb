"""Validate a route's input against the marshmallow schemas its apispec decorators declare.

aiohttp-apispec's own validation_middleware re-reads the raw body through webargs; ours reads
the body `sanitize` already parsed and cleaned, so validation sees exactly what will be stored,
and failures come out in the contract's envelope (first problem in `error`, all in `errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from marshmallow import Schema, ValidationError

from server.core.errors import FieldError, ValidationFailed
from server.core.keys import BODY, DATA, QUERY

_SOURCES: dict[str, Callable[[web.Request], Any]] = {
    "json": lambda r: r[BODY],
    "form": lambda r: r[BODY],
    "querystring": lambda r: r[QUERY],
    "match_info": lambda r: dict(r.match_info),
    "cookies": lambda r: dict(r.cookies),
}


def _flatten(messages: Any, prefix: str = "") -> list[FieldError]:
    found: list[FieldError] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            found.extend(_flatten(value, name))
    elif isinstance(messages, list):
        for item in messages:
            found.extend(_flatten(item, prefix))
    else:
        found.append(FieldError(prefix or "body", _in_words(prefix, str(messages))))
    return found


def _in_words(field: str, message: str) -> str:
    # marshmallow's stock wording names no field; say which one.
    if message == "Unknown field.":
        return f"Unknown field: {field}"
    if message == "Missing data for required field.":
        return f"{field} is required"
    return message


def validate(schema: Schema, data: Any) -> dict[str, Any]:
    """Load `data` with `schema`; raises ValidationFailed listing every problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed("Request body must be a JSON object",
                               errors=[FieldError("body", "Request body must be a JSON object")])
    try:
        return schema.load(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        errors = _flatten(exc.messages)
        raise ValidationFailed(errors[0].message, errors=errors) from None


@web.middleware
async def validation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    declared = getattr(request.match_info.handler, "__schemas__", None)
    if declared:
        data: dict[str, Any] = {}
        for entry in declared:
            location = (entry["locations"] or ["json"])[0]
            data.update(validate(entry["schema"], _SOURCES[location](request)))
        request[DATA] = data
    return await handler(request)
