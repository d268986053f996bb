"""Typed keys for what the app and each request share (never module globals)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from server.core.config import Config
from server.core.http import RoutePolicy, RouteTable

# Keys of resources live beside the resource they hold (DB in server/db.py, MAILER in
# server/mail/sender.py, METRICS in server/observability/metrics.py, LIMITER in
# server/ratelimit), so this layer names no type above it, not even for type checking.
CONFIG = web.AppKey("config", Config)
# The app's clock: an aware UTC datetime; tests replace it to move time.
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
STARTED_AT = web.AppKey("started_at", float)
# Each route's rate-limit budget and whether its path carries a token (server/web/routes.py).
ROUTES = web.AppKey("routes", RouteTable)

# Facts of one request, set once by the outermost middleware (middlewares/request_id.py);
# every later layer reads them and none recomputes them. (The audit context, AUDIT, lives in
# server/http/request.py: its type is above this layer.)
REQUEST_ID = web.RequestKey("request_id", str)
CLIENT_IP = web.RequestKey("client_ip", str)  # canonical text: the peer or the trusted hop
NOW = web.RequestKey("now", datetime)  # the request's one reading of app[CLOCK]
LOG_PATH = web.RequestKey("log_path", str)  # the path as logs show it: tokens as `{token}`
# The route table's policy for this request (None: a route outside the table, or no route).
ROUTE: web.RequestKey[RoutePolicy | None] = web.RequestKey("route")
USER_ID = web.RequestKey("user_id", str)  # set by authentication, read by the access log
RESPONSE_HEADERS = web.RequestKey("response_headers", dict)  # inner layers owe these headers
# The parsed, sanitized body (usually a dict) or None.
BODY: web.RequestKey[Any] = web.RequestKey("body")
# The sanitized query: the last value of each key wins.
QUERY: web.RequestKey[dict[str, str]] = web.RequestKey("query")
# Validated input from the route's schemas.
DATA: web.RequestKey[dict[str, Any]] = web.RequestKey("data")
