"""Hostile bodies: deep nesting is a 400 before any recursive walk, bodies are parsed only by
routes that take one, and no log line carries a whole deep stack."""

from __future__ import annotations

import logging

import orjson
import pytest

from server.observability.logs import JsonFormatter
from tests._app import PREFIX

JSON = {"Content-Type": "application/json"}
MAX_DEPTH = 32  # the documented limit (README, "Input handling")
AUTH = "/api/v1/auth"
# About 2 KB each: 900 nested arrays, 400 nested objects.
ARRAYS = b"[" * 900 + b"]" * 900
OBJECTS = b'{"a":' * 400 + b"1" + b"}" * 400
BODIES = [ARRAYS, OBJECTS]
BODY_IDS = ["arrays", "objects"]


def nested(levels: int) -> dict:
    """An object `levels` deep (the outer object counts as level 1)."""
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.fixture
def log_lines(caplog):
    """Every log line of this test, formatted as a served process writes it."""
    caplog.set_level(logging.INFO)
    formatter = JsonFormatter()
    return lambda: [formatter.format(r) for r in caplog.records]


class TestDeepNesting:
    @pytest.mark.parametrize("raw", BODIES, ids=BODY_IDS)
    @pytest.mark.parametrize("path", [f"{AUTH}/register", f"{AUTH}/login", f"{PREFIX}/echo"])
    async def test_is_a_400_on_routes_that_take_a_body(self, api, path, raw, log_lines):
        resp = await api.post(path, data=raw, headers=JSON)
        body = await resp.json()
        assert resp.status == 400, body
        assert body["code"] == "VALIDATION_ERROR"
        assert body["errors"] == [{"field": "body", "message":
                                   f"Request body is nested deeper than {MAX_DEPTH} levels"}]
        assert all(len(line) < 2048 for line in log_lines())

    async def test_rate_limited_route_too(self, make_config, make_client):
        api = await make_client(make_config(rate_limit={"enabled": True}), test_routes=True)
        resp = await api.post(f"{AUTH}/login", data=ARRAYS, headers=JSON)
        assert resp.status == 400
        assert "RateLimit-Remaining" in resp.headers

    async def test_nesting_inside_a_field_counts(self, api):
        resp = await api.post(f"{PREFIX}/echo",
                              json={"name": "n", "profile": nested(MAX_DEPTH)})
        assert resp.status == 400
        assert (await resp.json())["errors"][0]["field"] == "body"

    async def test_the_limit_itself_is_accepted(self, api):
        # The body object is level 1, so `profile` may nest MAX_DEPTH - 1 levels.
        profile = nested(MAX_DEPTH - 1)
        resp = await api.post(f"{PREFIX}/echo", json={"name": "n", "profile": profile})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["data"]["stored"]["profile"] == profile


class TestBodyOnlyWhereTaken:
    """A route without a body schema never parses a body: it answers as if none was sent."""

    @pytest.mark.parametrize("raw", [*BODIES, b"{not json"], ids=[*BODY_IDS, "malformed"])
    @pytest.mark.parametrize(("method", "path", "status"), [
        ("GET", "/health", 200),
        ("GET", f"{PREFIX}/search", 200),
        ("DELETE", "/api/v1/auth/sessions/0123456789abcdef01234567", 401),
        ("GET", "/api/v1/users/me", 401),
        ("POST", "/api/v1/nowhere", 404),
    ])
    async def test_body_is_ignored(self, api, method, path, status, raw, log_lines):
        resp = await api.request(method, path, data=raw, headers=JSON)
        assert resp.status == status, await resp.text()
        assert all(len(line) < 2048 for line in log_lines())

    async def test_a_route_that_takes_a_body_still_parses_it(self, api):
        resp = await api.post(f"{PREFIX}/echo", data=b"{not json", headers=JSON)
        assert resp.status == 400
        assert (await resp.json())["code"] == "INVALID_JSON"


class TestTracebacksAreCapped:
    async def test_a_deep_failure_logs_a_few_frames(self, api, log_lines):
        resp = await api.get(f"{PREFIX}/deep")
        assert resp.status == 500
        [line] = [orjson.loads(x) for x in log_lines() if '"unhandled error"' in x]
        trace = line["exc"]
        assert "RuntimeError: deep failure" in trace
        assert trace.count('File "') <= 8
        assert len(orjson.dumps(line)) < 4096

    async def test_the_development_stack_is_capped_too(self, make_config, make_client):
        api = await make_client(make_config(environ={"APP__ENVIRONMENT": "development"}),
                                test_routes=True)
        body = await (await api.get(f"{PREFIX}/deep")).json()
        assert body["stack"].count('File "') <= 8
        assert "RuntimeError: deep failure" in body["stack"]
