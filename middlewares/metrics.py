"""Request counts, latency by route template and status, and in-flight requests."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler

from server.http.request import route_template
from server.observability.metrics import METRICS

# Any token is a valid HTTP method; label only the known ones so a scanner cannot
# mint a new time series per invented method.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500
    metrics.request_started()
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        route = route_template(request)
        method = request.method if request.method in _METHODS else "OTHER"
        metrics.request_finished(method, route, status, time.perf_counter() - started)
