"""Parse the body once and clean all input: no `$`/dotted keys, `<` `>` escaped, last query value.

Only routes that declare a body schema (json or form) get their body read and parsed; any
other route answers as if no body was sent. A parsed body nested deeper than MAX_DEPTH is
refused (400 VALIDATION_ERROR) by an iterative check before the recursive cleaning walk.
Keys that start with `$` or contain `.` (or NUL) are dropped at every depth so an operator
object can never reach a Mongo query. `<` and `>` in strings are HTML-escaped before anything
is stored, except in password fields, which are never altered.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from server.core.errors import FieldError, InvalidJson, RequestTimeout, ValidationFailed
from server.core.keys import BODY, QUERY
from server.core.text import escape_angles

# Levels of arrays/objects a body may nest (the body itself is level 1). No route needs more
# than a few; the cap keeps clean() and marshmallow far from Python's recursion limit.
MAX_DEPTH = 32
_BODY_LOCATIONS = frozenset({"json", "form"})


def _is_unsafe_key(key: str) -> bool:
    # `$` and `.` are operator syntax; NUL cannot be stored in a BSON key at all (the driver
    # would raise InvalidDocument, a 500, on a client's whim).
    return key.startswith("$") or "." in key or "\x00" in key


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True if arrays/objects nest more than `limit` levels; iterative, so any depth is safe."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def clean(value: Any, key: str = "") -> Any:
    """Recursively drop unsafe keys and escape angle brackets (password fields untouched).
    Only call it on data too_deep() accepted."""
    if isinstance(value, dict):
        return {k: clean(v, k) for k, v in value.items()
                if isinstance(k, str) and not _is_unsafe_key(k)}
    if isinstance(value, list):
        return [clean(item, key) for item in value]
    if isinstance(value, str) and "password" not in key.lower():
        return escape_angles(value)
    return value


def takes_body(request: web.Request) -> bool:
    """True if the matched route declares a json or form body schema."""
    declared = getattr(request.match_info.handler, "__schemas__", None) or ()
    return any((entry["locations"] or ["json"])[0] in _BODY_LOCATIONS for entry in declared)


async def read_body(request: web.Request, within: float) -> Any:
    """The request body as Python data (JSON or form), or None when there is none.
    Raises RequestTimeout if it has not fully arrived `within` seconds, InvalidJson,
    or ValidationFailed when it nests deeper than MAX_DEPTH."""
    try:
        async with asyncio.timeout(within):
            raw = await request.read()
    except TimeoutError:
        # The rest of the body may never come: say so, and do not keep the connection.
        raise RequestTimeout(headers={"Connection": "close"}) from None
    if not raw:
        return None
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()  # parses the bytes read above; no second read
        return {k: form.getall(k)[-1] for k in form}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidJson() from None
    if too_deep(data):
        message = f"Request body is nested deeper than {MAX_DEPTH} levels"
        raise ValidationFailed(message, errors=[FieldError("body", message)])
    return data


def sanitize_middleware(body_timeout: timedelta) -> Middleware:
    timeout = body_timeout.total_seconds()

    @web.middleware
    async def sanitize(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Only a route with a body schema reads its body: elsewhere (GETs, 404s, routes that
        # take none) the bytes are never parsed, and aiohttp discards them after the answer.
        body = None
        if request.body_exists and takes_body(request):
            body = clean(await read_body(request, timeout))
        request[BODY] = body
        if not request.query_string:  # most requests: skip building an empty MultiDict
            request[QUERY] = {}
            return await handler(request)
        query = request.query
        # A repeated query parameter keeps its last value.
        request[QUERY] = {k: escape_angles(query.getall(k)[-1]) for k in query
                          if not _is_unsafe_key(k)}
        return await handler(request)

    return sanitize
