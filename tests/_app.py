"""The one app builder of the tests (the real app, optionally with test-only routes and a
clock the test sets), a settable clock, the bearer header, and a raw-bytes HTTP exchange."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp_apispec import querystring_schema, request_schema
from marshmallow import INCLUDE, Schema, fields

from server.core.clock import utcnow
from server.core.config import Config
from server.core.keys import BODY, CLOCK, DATA, QUERY
from server.db import DB
from server.http.responses import ok
from server.web.app import create_app

PREFIX = "/api/v1/_test"
PING = "/api/v1/_rl/ping"  # a trivial /api/ route the rate-limit tests spend budget on


def build_app(config: Config, *, test_routes: bool = False,
              clock: Callable[[], datetime] | None = None) -> web.Application:
    """The real app for `config`. `test_routes` adds the routes below (after CORS setup:
    they carry no CORS), to drive the real middleware chain over HTTP; `clock` replaces the
    app clock (set before the app starts, so every layer reads it)."""
    app = create_app(config)
    if test_routes:
        _add_test_routes(app.router)
    if clock is not None:
        app[CLOCK] = clock
    return app


def bearer(token: str) -> dict[str, str]:
    """The Authorization header carrying `token` as a bearer credential."""
    return {"Authorization": f"Bearer {token}"}


class Clock:
    """A settable app clock: tests move time instead of sleeping."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def closed(writer: asyncio.StreamWriter) -> None:
    """Close a raw test connection and wait until its socket is released: close() alone only
    schedules that, and a loop that stops first leaves the transport to the garbage
    collector (a suspect for the 'unclosed transport' ResourceWarning seen in full runs)."""
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def raw_exchange(client: Any, request: bytes,
                       within: float = 5.0) -> tuple[str, dict[str, str], bytes]:
    """Send bytes no client library would send as they are; read the answer until the server
    closes the connection: (status line, lower-cased headers, body)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), within)
    finally:
        await closed(writer)
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
    return status, headers, body


# The test-only routes (build_app(test_routes=True)).


class EchoSchema(Schema):
    name = fields.String(required=True)
    password = fields.String()
    tags = fields.List(fields.String())
    profile = fields.Dict()


class LookupSchema(Schema):
    """Any fields: the lookup route takes a body, and uses it raw."""

    class Meta:
        unknown = INCLUDE

    email = fields.Raw()


class SearchSchema(Schema):
    q = fields.String()
    page = fields.Integer()


@request_schema(EchoSchema)
async def echo(request: web.Request) -> web.Response:
    """Store the validated body, read it back from the database, return what was stored."""
    db = request.app[DB]
    result = await db.echoes.insert_one(dict(request[DATA]))
    stored = await db.echoes.find_one({"_id": result.inserted_id}, {"_id": 0})
    return ok(data={"stored": stored})


@request_schema(LookupSchema)
async def lookup(request: web.Request) -> web.Response:
    """Use the raw sanitized body as a filter, the way a careless model would."""
    found = await request.app[DB].people.find_one(request[BODY] or {}, {"_id": 0})
    return ok(data={"found": found})


@querystring_schema(SearchSchema)
async def search(request: web.Request) -> web.Response:
    return ok(data={"data": request[DATA], "query": request[QUERY]})


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("kaboom: secret-driver-detail")


def _recurse(depth: int) -> None:
    if depth == 0:
        raise RuntimeError("deep failure")
    _recurse(depth - 1)


async def deep(request: web.Request) -> web.Response:
    """A bug that fails 300 frames down (a traceback no log line should carry whole)."""
    _recurse(300)
    return ok()


async def big(request: web.Request) -> web.Response:
    size = int(request.query.get("size", "4096"))
    return ok(data={"blob": "x" * size})


async def token_path(request: web.Request) -> web.Response:
    return ok(message="seen")


async def find_one(request: web.Request) -> web.Response:
    doc = await request.app[DB].things.find_one({})
    return ok(data={"found": doc is not None})


async def ping(request: web.Request) -> web.Response:
    return ok(message="pong")


def _add_test_routes(router: web.UrlDispatcher) -> None:
    router.add_post(f"{PREFIX}/echo", echo)
    router.add_post(f"{PREFIX}/lookup", lookup)
    router.add_get(f"{PREFIX}/search", search)
    router.add_get(f"{PREFIX}/boom", boom)
    router.add_get(f"{PREFIX}/big", big)
    router.add_get(f"{PREFIX}/deep", deep)
    router.add_get(f"{PREFIX}/verify-email/{{token}}", token_path)
    router.add_get(f"{PREFIX}/find-one", find_one)
    router.add_get(PING, ping)
