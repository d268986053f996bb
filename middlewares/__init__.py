"""The ordered middleware chain, outermost first: the one place that decides the order."""

from __future__ import annotations

from aiohttp import web

from middlewares.access_log import access_log_middleware
from middlewares.body_guard import body_guard_middleware
from middlewares.compression import compression_middleware
from middlewares.db_gate import db_gate_middleware
from middlewares.error_handler import error_handler_middleware
from middlewares.metrics import metrics_middleware
from middlewares.origin_guard import origin_guard_middleware
from middlewares.rate_limit import rate_limit_middleware
from middlewares.request_id import request_id_middleware
from middlewares.sanitize import sanitize_middleware
from middlewares.security_headers import security_headers_middleware
from middlewares.validation import validation_middleware
from server.core.config import Config


def build_middlewares(config: Config) -> list[web.middleware]:  # type: ignore[valid-type]
    """Layers that decorate responses sit outside error_handler so they see error bodies too;
    layers that reject requests sit inside it and raise AppError."""
    chain = [
        # Outermost: the request's facts (id, client IP, clock reading, route policy, loggable
        # path, audit context) exist before any later layer or log line needs them.
        request_id_middleware,
        # Sees the final status of everything below, errors included.
        access_log_middleware,
        metrics_middleware,
        # Stamps helmet headers, Cache-Control and owed RateLimit-* on errors too.
        security_headers_middleware,
        # Compresses error bodies as well as successes.
        compression_middleware,
        # The only place exceptions become the JSON envelope.
        error_handler_middleware,
        # Login CSRF: refuses before a budget is spent or a body is read (headers only).
        origin_guard_middleware(config.cors),
        # Before anything that touches the database: until its schema is in place (or while
        # it has never answered), API routes get 503 at once, not after a driver timeout.
        db_gate_middleware(config.mongodb.timeout.total_seconds()),
        # Slot: rate limiting rejects before any body is read or any handler runs.
        rate_limit_middleware(config.rate_limit),
        # Size and media type before reading; then parse and clean once.
        body_guard_middleware(config.server.max_body_size),
        sanitize_middleware(config.server.body_timeout),
        # Innermost: validated input for the handler (authentication is per route).
        validation_middleware,
    ]
    return [m for m in chain if m is not None]
