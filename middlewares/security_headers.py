"""helmet-equivalent security headers on every response, `no-store` on the API, no Server."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from server.keys import RESPONSE_HEADERS

API_PREFIX = "/api/v1"

# helmet 7 defaults (the CSP is helmet's default policy, minus nothing).
CONTENT_SECURITY_POLICY = (
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;"
    "form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';"
    "script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';"
    "upgrade-insecure-requests"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains; preload"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Origin-Agent-Cluster", "?1"),
    ("X-DNS-Prefetch-Control", "off"),
    ("X-Download-Options", "noopen"),
    ("X-Permitted-Cross-Domain-Policies", "none"),
    ("X-XSS-Protection", "0"),
)

_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


def is_api_path(path: str) -> bool:
    """True for `/api/v1` and anything under it (not `/api/v10`)."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def stamp(request: web.Request, response: web.StreamResponse) -> None:
    """Add the security headers (a handler may have set a narrower CSP of its own)."""
    headers = response.headers
    if headers.keys().isdisjoint(_NAMES):  # the usual case: one C call adds all of them
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


@web.middleware
async def security_headers_middleware(request: web.Request,
                                      handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    stamp(request, response)
    return response


async def hide_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: runs after aiohttp adds `Server: Python/x aiohttp/y`; remove it.
    Also stamps responses a handler prepared itself (streams), which bypass the middleware."""
    response.headers.popall("Server", None)
    if "X-Content-Type-Options" not in response.headers:
        stamp(request, response)


class _GatehouseRequest(web.Request):
    """A Request whose answers are hardened even when the app never sees them.

    aiohttp's HTTP parser answers a malformed request (bad request line, a raw newline or
    control character in a header) itself, with `Server: Python/x aiohttp/y`, before any
    middleware or signal runs. Those requests have no match_info: stamp them here instead."""

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        if self._match_info is not None:
            await super()._prepare_hook(response)
            return
        response.headers.popall("Server", None)
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        response.headers["X-Request-ID"] = uuid.uuid4().hex


def harden_protocol_errors(app: web.Application) -> None:
    """Make the app build _GatehouseRequest objects (aiohttp's Application._make_request takes
    the request class as `_cls`; there is no public hook for parser-level errors)."""
    make_request = app._make_request

    def factory(*args: Any, **kwargs: Any) -> web.Request:
        kwargs["_cls"] = _GatehouseRequest
        return make_request(*args, **kwargs)

    app._make_request = factory  # type: ignore[method-assign]
