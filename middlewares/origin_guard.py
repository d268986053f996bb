"""Login CSRF: routes marked `@same_origin_only` refuse a cross-site browser request (403)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from server.core.config import CorsConfig
from server.core.errors import CrossSiteRequest
from server.core.keys import REQUEST_ID
from server.http.origin import SAME_ORIGIN_ONLY, cross_site_reason
from server.http.request import client_ip
from server.observability.logs import security_event

_LOGGED_ORIGIN = 200  # characters of a refused Origin kept in the security log
# The cookie routes are all POSTs. Skipping safe methods first keeps the attribute lookup
# (about 1 us when the attribute is absent) off /health and every other read.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def origin_guard_middleware(config: CorsConfig) -> Middleware:
    """The guard for `cors.allowed_origins`. SameSite=Strict keeps the cookie off cross-site
    requests, but a cross-site login *response* still plants a cookie; this refuses it."""
    allowed = frozenset(config.allowed_origins)

    @web.middleware
    async def origin_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (request.method not in _SAFE_METHODS
                and getattr(request.match_info.handler, SAME_ORIGIN_ONLY, False)):
            reason = cross_site_reason(request.headers, request.content_type, allowed)
            if reason is not None:
                security_event("cross_site_rejected", request.get(REQUEST_ID),
                               logging.WARNING, reason=reason, ip=client_ip(request),
                               path=request.path,
                               origin=request.headers.get("Origin", "")[:_LOGGED_ORIGIN])
                raise CrossSiteRequest()
        return await handler(request)

    return origin_guard
