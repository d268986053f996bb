"""CORS from config via aiohttp-cors: allowed origins get CORS headers, others get none."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp_cors
from aiohttp import web

from server.core.config import CorsConfig
from server.core.http import REQUEST_ID_HEADER

ALLOWED_HEADERS = ("Content-Type", "Authorization", REQUEST_ID_HEADER)
EXPOSED_HEADERS = (REQUEST_ID_HEADER, "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                   "Retry-After")
ALLOW_ORIGIN = "Access-Control-Allow-Origin"

ResponseHook = Callable[[web.Request, web.StreamResponse], Awaitable[None]]
AnyHook = Callable[[web.Request, web.StreamResponse], Awaitable[object]]


def setup_cors(app: web.Application, config: CorsConfig) -> None:
    """Apply the CORS policy to every route registered so far (call after setup_routes).

    Each route allows only its own method, so a preflight for a method the path does not
    serve is refused (403) rather than approved and then answered 405."""
    before = list(app.on_response_prepare)
    cors = aiohttp_cors.setup(app)
    _only_with_origin(app, [hook for hook in app.on_response_prepare if hook not in before])
    for route in list(app.router.routes()):
        options = aiohttp_cors.ResourceOptions(  # type: ignore[no-untyped-call]
            allow_credentials=config.credentials,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            allow_methods=[route.method],
            max_age=600,
        )
        cors.add(route, dict.fromkeys(config.allowed_origins, options))
    # Appended after aiohttp-cors's own hook, so it sees what that one did.
    app.on_response_prepare.append(_complete_cors(config))


def _only_with_origin(app: web.Application, added: list[AnyHook]) -> None:
    """aiohttp-cors's response hook (the one `setup` added) resolves the route's CORS config
    before it looks at `Origin` and then does nothing without one: ~10 us on every
    same-origin or non-browser request. Run it only when there is an `Origin` (preflights
    have their own handler)."""
    hooks = app.on_response_prepare
    for index, hook in enumerate(hooks):
        if hook in added:
            hooks[index] = _with_origin_only(hook)


def _with_origin_only(
        hook: Callable[[web.Request, web.StreamResponse], Awaitable[object]]) -> ResponseHook:
    async def with_origin(request: web.Request, response: web.StreamResponse) -> None:
        if "Origin" in request.headers:
            await hook(request, response)

    return with_origin


def _complete_cors(config: CorsConfig) -> ResponseHook:
    """What aiohttp-cors leaves out: `Vary: Origin` (answers differ by origin, so a shared
    cache must key on it) and CORS headers on responses it never sees, the 404s and 405s of
    unrouted requests, so a browser app can read those error bodies too."""
    allowed = frozenset(config.allowed_origins)

    async def complete(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        if "origin" not in ",".join(headers.getall("Vary", ())).lower():
            headers.add("Vary", "Origin")
        origin = request.headers.get("Origin")
        if (origin is None or ALLOW_ORIGIN in headers or request.method == "OPTIONS"
                or not (origin in allowed or "*" in allowed)):
            return
        headers[ALLOW_ORIGIN] = origin
        if config.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        headers["Access-Control-Expose-Headers"] = ",".join(EXPOSED_HEADERS)

    return complete
