"""CORS from config via aiohttp-cors: allowed origins get CORS headers, others get none."""

from __future__ import annotations

import aiohttp_cors
from aiohttp import web

from server.config import CorsConfig

ALLOWED_HEADERS = ("Content-Type", "Authorization", "X-Request-ID")
EXPOSED_HEADERS = ("X-Request-ID", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                   "Retry-After")


def setup_cors(app: web.Application, config: CorsConfig) -> None:
    """Apply the CORS policy to every route registered so far (call after setup_routes)."""
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=config.credentials,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        max_age=600,
    )
    cors = aiohttp_cors.setup(app, defaults=dict.fromkeys(config.allowed_origins, options))
    for route in list(app.router.routes()):
        cors.add(route)
