"""The app factory: pure wiring of config, middlewares, routes and resource contexts."""

from __future__ import annotations

import time

from aiohttp import web

from middlewares import build_middlewares
from server.core.clock import utcnow
from server.core.config import Config
from server.core.keys import CLOCK, CONFIG, STARTED_AT
from server.db import mongo_ctx
from server.mail.sender import mailer_ctx
from server.observability.metrics import METRICS, Metrics
from server.ratelimit import rate_limit_ctx
from server.signing import KEYRING, KeyRing
from server.web.cors import setup_cors
from server.web.hardening import harden
from server.web.keyring import keyring_ctx
from server.web.routes import setup_routes


def create_app(config: Config) -> web.Application:
    """Build the Application; no I/O here (connections open in cleanup contexts)."""
    app = web.Application(
        middlewares=build_middlewares(config),
        client_max_size=config.server.max_body_size,
    )
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app[CLOCK] = utcnow
    app[STARTED_AT] = time.monotonic()
    app[KEYRING] = KeyRing.for_app(config)  # loads (and first creates) keys on first use
    setup_routes(app)
    setup_cors(app, config.cors)
    harden(app)  # no Server header; parser-level answers stamped too
    app.cleanup_ctx.append(mongo_ctx)
    app.cleanup_ctx.append(mailer_ctx)  # after mongo_ctx: it needs app[DB]
    app.cleanup_ctx.append(rate_limit_ctx)  # after mongo_ctx: the mongodb store uses app[DB]
    app.cleanup_ctx.append(keyring_ctx)  # after mongo_ctx: loads (first creates) the keys
    return app
