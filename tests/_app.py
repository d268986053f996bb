"""Test-only routes bolted onto the real app, to drive the real middleware chain over HTTP."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from aiohttp_apispec import querystring_schema, request_schema
from marshmallow import INCLUDE, Schema, fields

from server.core.config import Config
from server.core.keys import BODY, DATA, QUERY
from server.db import DB
from server.http.responses import ok
from server.web.app import create_app

PREFIX = "/api/v1/_test"


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


def build_test_app(config: Config) -> web.Application:
    """The real app plus the test routes (added after CORS setup: they carry no CORS)."""
    app = create_app(config)
    app.router.add_post(f"{PREFIX}/echo", echo)
    app.router.add_post(f"{PREFIX}/lookup", lookup)
    app.router.add_get(f"{PREFIX}/search", search)
    app.router.add_get(f"{PREFIX}/boom", boom)
    app.router.add_get(f"{PREFIX}/big", big)
    app.router.add_get(f"{PREFIX}/deep", deep)
    app.router.add_get(f"{PREFIX}/verify-email/{{token}}", token_path)
    app.router.add_get(f"{PREFIX}/find-one", find_one)
    return app


async def start_test_client(aiohttp_client: Any, config: Config) -> TestClient:  # type: ignore[type-arg]
    return await aiohttp_client(build_test_app(config))  # type: ignore[no-any-return]
