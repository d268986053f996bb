"""The one security-header stamp: helmet headers, `no-store` on the API, headers owed by inner
layers. Used by the security_headers middleware and by the web layer's response hooks."""

from __future__ import annotations

from aiohttp import web

from server.core.http import SECURITY_HEADER_NAMES, SECURITY_HEADERS, is_api_path
from server.core.keys import RESPONSE_HEADERS

# The header that marks a response as stamped (every stamp sets it).
STAMP_MARK = "X-Content-Type-Options"


def is_stamped(response: web.StreamResponse) -> bool:
    """True once `stamp` (or a handler setting all of them) has run on this response."""
    return STAMP_MARK in response.headers


def stamp(request: web.Request, response: web.StreamResponse) -> None:
    """Add the security headers (a handler may have set a narrower CSP of its own)."""
    headers = response.headers
    if headers.keys().isdisjoint(SECURITY_HEADER_NAMES):  # usual case: one C call adds all
        headers.extend(SECURITY_HEADERS)
    else:
        for name, value in SECURITY_HEADERS:
            if name not in headers:
                headers[name] = value
    if is_api_path(request.path):
        headers["Cache-Control"] = "no-store"
    owed = request.get(RESPONSE_HEADERS)
    if owed:
        headers.update(owed)
