"""Parse the body once and clean all input: no `$`/dotted keys, `<` `>` escaped, last query value.

Keys that start with `$` or contain `.` (or NUL) are dropped at every depth so an operator
object can never reach a Mongo query. `<` and `>` in strings are HTML-escaped before anything
is stored, except in password fields, which are never altered.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from server.core.errors import InvalidJson
from server.core.keys import BODY, QUERY
from server.core.text import escape_angles


def _is_unsafe_key(key: str) -> bool:
    # `$` and `.` are operator syntax; NUL cannot be stored in a BSON key at all (the driver
    # would raise InvalidDocument, a 500, on a client's whim).
    return key.startswith("$") or "." in key or "\x00" in key


def clean(value: Any, key: str = "") -> Any:
    """Recursively drop unsafe keys and escape angle brackets (password fields untouched)."""
    if isinstance(value, dict):
        return {k: clean(v, k) for k, v in value.items()
                if isinstance(k, str) and not _is_unsafe_key(k)}
    if isinstance(value, list):
        return [clean(item, key) for item in value]
    if isinstance(value, str) and "password" not in key.lower():
        return escape_angles(value)
    return value


async def read_body(request: web.Request) -> Any:
    """The request body as Python data (JSON or form), or None when there is none."""
    if not request.body_exists:
        return None
    raw = await request.read()
    if not raw:
        return None
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        return {k: form.getall(k)[-1] for k in form}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidJson() from None


@web.middleware
async def sanitize_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # GETs have no body: skip the read coroutine and the cleaning walk.
    request[BODY] = clean(await read_body(request)) if request.body_exists else None
    if not request.query_string:  # most requests: skip building an empty MultiDict
        request[QUERY] = {}
        return await handler(request)
    query = request.query
    # A repeated query parameter keeps its last value.
    request[QUERY] = {k: escape_angles(query.getall(k)[-1]) for k in query
                      if not _is_unsafe_key(k)}
    return await handler(request)
