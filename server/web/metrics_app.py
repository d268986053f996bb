"""The metrics listener's app: `GET /metrics` only, served on metrics.host:metrics.port."""

from __future__ import annotations

from aiohttp import web

from handlers.health import scrape
from middlewares.access_log import access_log_middleware
from middlewares.error_handler import error_handler_middleware
from middlewares.request_id import request_id_middleware
from middlewares.security_headers import security_headers_middleware
from server.core.clock import utcnow
from server.core.config import Config
from server.core.keys import CLOCK, CONFIG
from server.observability.metrics import METRICS, Metrics
from server.web.hardening import harden


def create_metrics_app(config: Config, metrics: Metrics) -> web.Application:
    """The app a worker serves on the shared metrics socket. `metrics` is that worker's API
    app's, so a scrape publishes the worker's latest numbers before summing every worker's.
    No rate limit, body parsing or request counting: only what every answer needs (request
    id, access line, security headers, the JSON error envelope)."""
    app = web.Application(middlewares=[
        request_id_middleware,
        access_log_middleware,
        security_headers_middleware,
        error_handler_middleware,
    ])
    app[CONFIG] = config
    app[CLOCK] = utcnow  # request_id reads the request's clock from it
    app[METRICS] = metrics
    app.router.add_get("/metrics", scrape)
    harden(app)
    return app
