"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hashlib
import hmac
import time

from aiohttp import web

from handlers._auth import required_bearer
from handlers.openapi.decorators import docs, errors, success
from handlers.openapi.respond import render
from handlers.schemas.health import (
    DOWN_EXAMPLE,
    HEALTH_EXAMPLE,
    METRICS_DESCRIPTION,
    METRICS_RESPONSE,
    READY_EXAMPLE,
    HealthSchema,
    ReadySchema,
)
from server.core import __version__
from server.core.clock import utcnow
from server.core.errors import InvalidToken, NotFound, TokenMissing
from server.core.keys import CONFIG, STARTED_AT
from server.db import DB, SCHEMA, ping
from server.observability.metrics import CONTENT_TYPE, METRICS


class HealthHandler:
    @docs(tags=["operations"], summary="Liveness (no database call)")
    @success(HealthSchema, description="The process is up", example=HEALTH_EXAMPLE)
    async def health(self, request: web.Request) -> web.Response:
        """Liveness: answers without touching the database."""
        app = request.app
        return render(request, {
            "status": "healthy",
            "timestamp": utcnow(),
            "uptime": round(time.monotonic() - app[STARTED_AT], 3),
            "environment": app[CONFIG].environment,
            "version": __version__,
        })

    @docs(tags=["operations"],
          summary="Readiness: the database answers and has its indexes and migrations")
    @success(ReadySchema, description="Ready to serve", example=READY_EXAMPLE)
    @success(ReadySchema, 503, description="Database unreachable, or its indexes and "
             "migrations not applied yet (`checks.schema` is then `pending`)",
             example=DOWN_EXAMPLE)
    async def ready(self, request: web.Request) -> web.Response:
        """Readiness: 200 when the schema step is done and the database answers a ping."""
        up = await ping(request.app[DB])
        checks = {"database": "up" if up else "down"}
        prepared = request.app[SCHEMA].ready.is_set()
        if not prepared:
            checks["schema"] = "pending"
        ready = up and prepared
        body = {"status": "ready" if ready else "unavailable", "checks": checks}
        return render(request, body, status=200 if ready else 503)

    @docs(tags=["operations"], summary="Prometheus metrics, for the bearer of metrics.token",
          description=METRICS_DESCRIPTION, responses=METRICS_RESPONSE)
    @errors(TokenMissing, InvalidToken, NotFound("Route /metrics not found"))
    async def metrics(self, request: web.Request) -> web.Response:
        """On the API port: 404, as for any unknown route, unless metrics.token is set; then
        only its bearer gets the exposition (the counters would tell anyone else which
        addresses are registered). Prometheus normally scrapes the metrics listener."""
        if not request.app[CONFIG].metrics.token:
            raise NotFound(f"Route {request.path} not found")
        return await scrape(request)


async def scrape(request: web.Request) -> web.Response:
    """Prometheus text exposition for the whole service (every worker); with metrics.token
    set, only for `Authorization: Bearer <token>`. Raises TokenMissing or InvalidToken."""
    token = request.app[CONFIG].metrics.token
    if token:
        given = required_bearer(request).encode("utf-8", "surrogateescape")
        # Digests of equal length: the comparison takes the same time whatever was sent.
        if not hmac.compare_digest(hashlib.sha256(given).digest(),
                                   hashlib.sha256(token.encode()).digest()):
            raise InvalidToken()
    return web.Response(body=request.app[METRICS].render(),
                        headers={"Content-Type": CONTENT_TYPE})
