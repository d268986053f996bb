"""The single URL table: every route of the service and the handler method it calls."""

from __future__ import annotations

from aiohttp import web

from handlers.health import HealthHandler

API = "/api/v1"


def setup_routes(app: web.Application) -> None:
    health = HealthHandler()
    app.router.add_get("/health", health.health)
    app.router.add_get("/health/ready", health.ready)
    app.router.add_get("/metrics", health.metrics)
