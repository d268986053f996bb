"""Typed keys for everything shared through the app or a request (never module globals)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.config import Config

CONFIG = web.AppKey("config", Config)
DB = web.AppKey("db", Any)  # motor AsyncIOMotorDatabase (see server/db.py)
MAILER = web.AppKey("mailer", Any)  # server.mailer.Mailer
METRICS = web.AppKey("metrics", Any)  # server.metrics.Metrics
CLOCK = web.AppKey("clock", Any)  # callable returning an aware UTC datetime (tests set it)
STARTED_AT = web.AppKey("started_at", float)

REQUEST_ID = web.RequestKey("request_id", str)
USER_ID = web.RequestKey("user_id", str)  # set by authentication, read by the access log
RESPONSE_HEADERS = web.RequestKey("response_headers", dict)  # inner layers owe these headers
BODY = web.RequestKey("body", Any)  # parsed, sanitized body (dict) or None
QUERY = web.RequestKey("query", dict)  # sanitized query: last value of each key wins
DATA = web.RequestKey("data", dict)  # validated input from the route's schemas
