"""Typed keys for what the app and each request share (never module globals)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from server.core.config import Config

# Keys of resources live beside the resource they hold (DB in server/db.py, MAILER in
# server/mail/sender.py, METRICS in server/observability/metrics.py, LIMITER in
# server/ratelimit), so this layer names no type above it, not even for type checking.
CONFIG = web.AppKey("config", Config)
# The app's clock: an aware UTC datetime; tests replace it to move time.
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
STARTED_AT = web.AppKey("started_at", float)

REQUEST_ID = web.RequestKey("request_id", str)
USER_ID = web.RequestKey("user_id", str)  # set by authentication, read by the access log
RESPONSE_HEADERS = web.RequestKey("response_headers", dict)  # inner layers owe these headers
# The parsed, sanitized body (usually a dict) or None.
BODY: web.RequestKey[Any] = web.RequestKey("body")
# The sanitized query: the last value of each key wins.
QUERY: web.RequestKey[dict[str, str]] = web.RequestKey("query")
# Validated input from the route's schemas.
DATA: web.RequestKey[dict[str, Any]] = web.RequestKey("data")
