"""The errors every route shares (API.md): status, `error` text, code and the envelope shape."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime

import orjson
import pytest

from tests._app import PREFIX, raw_exchange

JSON = {"Content-Type": "application/json"}
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
ENVELOPE_KEYS = {"success", "error", "code", "requestId", "timestamp"}


async def assert_envelope(resp, status: int, error: str) -> dict:
    assert resp.status == status
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) >= ENVELOPE_KEYS
    assert set(body) <= {*ENVELOPE_KEYS, "errors", "stack"}
    assert body["success"] is False
    assert body["error"] == error
    assert UPPER_SNAKE.match(body["code"]), body["code"]
    assert body["requestId"] == resp.headers["X-Request-ID"]
    assert body["timestamp"].endswith("Z")
    datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    return body


async def chunks(total: int, size: int = 8192) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * size
        sent += size


class TestNotFound:
    @pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v1/users/x/y/z"])
    async def test_unknown_path(self, api, path):
        body = await assert_envelope(await api.get(path), 404, f"Route {path} not found")
        assert body["code"] == "NOT_FOUND"

    async def test_unknown_path_with_any_method(self, api):
        await assert_envelope(await api.post("/api/v1/nope", json={}), 404,
                              "Route /api/v1/nope not found")

    async def test_query_string_is_not_echoed(self, api):
        await assert_envelope(await api.get("/nope?token=abc"), 404, "Route /nope not found")


class TestMethodNotAllowed:
    async def test_wrong_method_on_known_path(self, api):
        resp = await api.delete("/health")
        body = await assert_envelope(resp, 405, "Method DELETE not allowed")
        assert body["code"] == "METHOD_NOT_ALLOWED"
        allowed = {m.strip() for m in resp.headers["Allow"].split(",")}
        assert "GET" in allowed
        assert "DELETE" not in allowed

    async def test_wrong_method_on_api_route(self, api):
        resp = await api.get(f"{PREFIX}/echo")
        await assert_envelope(resp, 405, "Method GET not allowed")
        assert resp.headers["Allow"] == "POST"


class TestInvalidJson:
    @pytest.mark.parametrize("raw", [b"{", b"{'a': 1}", b"nope", b'{"a": }', b"\xff\xfe"])
    async def test_malformed_json(self, api, raw):
        body = await assert_envelope(
            await api.post(f"{PREFIX}/echo", data=raw, headers=JSON), 400, "Invalid JSON body")
        assert body["code"] == "INVALID_JSON"

    async def test_json_with_charset_is_json(self, api):
        resp = await api.post(f"{PREFIX}/echo", data=b'{"name": "x"}',
                              headers={"Content-Type": "application/json; charset=utf-8"})
        assert resp.status == 200

    async def test_json_that_is_not_an_object(self, api):
        body = await assert_envelope(await api.post(f"{PREFIX}/echo", json=[1, 2]), 400,
                                     "Request body must be a JSON object")
        assert body["code"] == "VALIDATION_ERROR"


class TestPayloadTooLarge:
    async def test_declared_length_over_limit(self, api):
        # Over server.max_body_size (100kb): refused before the body is read.
        body = await assert_envelope(
            await api.post(f"{PREFIX}/echo", data=b" " * (100 * 1024 + 1), headers=JSON),
            413, "Payload too large")
        assert body["code"] == "PAYLOAD_TOO_LARGE"

    async def test_chunked_body_over_limit(self, api):
        resp = await api.post(f"{PREFIX}/echo", data=chunks(300 * 1024), headers=JSON)
        assert resp.request_info.headers.get("Transfer-Encoding") == "chunked"
        await assert_envelope(resp, 413, "Payload too large")

    async def test_body_at_the_limit_is_read(self, api):
        padded = b'{"name": "x"}' + b" " * (100 * 1024 - 13)
        resp = await api.post(f"{PREFIX}/echo", data=padded, headers=JSON)
        assert resp.status == 200

    async def test_limit_follows_config(self, make_config, make_client):
        api = await make_client(make_config(server={"max_body_size": 64}), test_routes=True)
        resp = await api.post(f"{PREFIX}/echo", json={"name": "x" * 100})
        await assert_envelope(resp, 413, "Payload too large")


class TestUnsupportedMediaType:
    @pytest.mark.parametrize("content_type", ["text/plain", "application/xml",
                                              "multipart/form-data; boundary=x",
                                              "application/octet-stream"])
    async def test_other_media_types(self, api, content_type):
        resp = await api.post(f"{PREFIX}/echo", data=b"name=x",
                              headers={"Content-Type": content_type})
        body = await assert_envelope(resp, 415, "Unsupported media type")
        assert body["code"] == "UNSUPPORTED_MEDIA_TYPE"

    async def test_chunked_body_of_other_type(self, api):
        resp = await api.post(f"{PREFIX}/echo", data=chunks(100),
                              headers={"Content-Type": "text/plain"})
        await assert_envelope(resp, 415, "Unsupported media type")

    async def test_form_encoding_is_accepted(self, api):
        resp = await api.post(f"{PREFIX}/echo", data={"name": "form"})
        assert resp.status == 200
        assert (await resp.json())["data"]["stored"] == {"name": "form"}

    async def test_no_body_needs_no_type(self, api):
        resp = await api.post(f"{PREFIX}/echo")
        body = await assert_envelope(resp, 400, "name is required")
        assert body["errors"] == [{"field": "name", "message": "name is required"}]


class TestUnexpected:
    async def test_500_hides_details_outside_development(self, api):
        resp = await api.get(f"{PREFIX}/boom")
        body = await assert_envelope(resp, 500, "Internal Server Error")
        assert body["code"] == "INTERNAL_ERROR"
        assert "stack" not in body
        assert b"kaboom" not in await resp.read()

    async def test_production_hides_the_stack_too(self, make_config, make_client):
        env = {"APP__ENVIRONMENT": "production", "APP__JWT__SECRET": "p" * 40,
               "APP__JWT__REFRESH_SECRET": "q" * 40}
        api = await make_client(make_config(environ=env), test_routes=True)
        body = await assert_envelope(await api.get(f"{PREFIX}/boom"), 500,
                                     "Internal Server Error")
        assert "stack" not in body

    async def test_development_adds_the_stack(self, make_config, make_client):
        api = await make_client(make_config(environ={"APP__ENVIRONMENT": "development"}),
                                test_routes=True)
        body = await assert_envelope(await api.get(f"{PREFIX}/boom"), 500,
                                     "Internal Server Error")
        assert "RuntimeError" in body["stack"]
        assert "boom" in body["stack"]

    async def test_failure_is_logged_with_the_request_id(self, api, caplog):
        resp = await api.get(f"{PREFIX}/boom", headers={"X-Request-ID": "crash-1"})
        assert resp.status == 500
        records = [r for r in caplog.records if r.name == "gatehouse" and r.levelname == "ERROR"]
        assert records
        assert records[-1].fields["requestId"] == "crash-1"


class TestNotFoundMessage:
    @pytest.mark.parametrize("path", [
        "/a%0d%0aSet-Cookie:%20evil=1",
        "/a%1b%5b31mred%1b%5b0m",
        "/a%00b%7fc%e2%80%aed",  # NUL, DEL, U+202E (right-to-left override)
        "/a%e2%80%a8b",  # U+2028, a line separator to JavaScript
    ])
    async def test_control_characters_are_not_reflected(self, api, path):
        status, _, body = await raw_exchange(
            api, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert " 404 " in status
        message = orjson.loads(body)["error"]
        assert message.startswith("Route /a")
        assert message.isprintable(), message
        assert "\\x" in message or "\\u" in message  # shown escaped, not dropped

    async def test_long_paths_are_cut(self, api):
        path = "/api/v1/" + "p" * 5000
        resp = await api.get(path)
        assert resp.status == 404
        message = (await resp.json())["error"]
        assert len(message) < 300
        assert message.startswith("Route /api/v1/ppp")

    async def test_ordinary_paths_are_still_named(self, api):
        resp = await api.get("/api/v1/nope-é")
        assert (await resp.json())["error"] == "Route /api/v1/nope-é not found"
