"""Typed keys for everything shared through the app or a request (never module globals)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from server.config import Config

if TYPE_CHECKING:  # typing only: keeps Motor and prometheus_client out of the master process
    from motor.motor_asyncio import AsyncIOMotorDatabase

    from server.mailer import Mailer
    from server.metrics import Metrics

CONFIG = web.AppKey("config", Config)
DB: web.AppKey[AsyncIOMotorDatabase[Any]] = web.AppKey("db")
MAILER: web.AppKey[Mailer] = web.AppKey("mailer")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
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
