"""No answer echoes client bytes: parser-level 400s carry a fixed envelope, and a 404 repeats
the path only as printable, length-capped text."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

CANARY = "c4n4ry"
MALFORMED = [
    # A control character in a header value; the value goes on with markup.
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\x01<script>" + CANARY.encode()
    + b"</script>\r\n\r\n",
    # A control character in the request line.
    b"GET /a\x01<b>" + CANARY.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    # A bare LF continuation (request smuggling shape).
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Note: ok\n " + CANARY.encode() + b"\r\n\r\n",
    # Not HTTP at all.
    b"\x16\x03\x01" + CANARY.encode() + b"\r\n\r\n",
    # A header line longer than the parser's limit.
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Long: " + CANARY.encode() * 2000 + b"\r\n\r\n",
]
MALFORMED_IDS = ["header-control", "request-line-control", "bare-lf", "not-http",
                 "long-header"]


async def exchange(api, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send raw bytes; the status line, headers and whole body of the answer."""
    reader, writer = await asyncio.open_connection(api.server.host, api.server.port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
    return status, headers, body


class TestParserLevelAnswers:
    @pytest.mark.parametrize("request_bytes", MALFORMED, ids=MALFORMED_IDS)
    async def test_no_client_bytes_in_the_answer(self, api, request_bytes, caplog):
        caplog.set_level(logging.CRITICAL, logger="aiohttp.server")
        status, headers, body = await exchange(api, request_bytes)
        assert " 400 " in status
        assert CANARY.encode() not in body
        assert b"<" not in body
        assert headers["content-type"] == "application/json"
        assert int(headers["content-length"]) == len(body)
        envelope = orjson.loads(body)
        assert envelope["success"] is False
        assert envelope["code"] == "BAD_REQUEST"
        assert envelope["error"] == "Malformed request"
        assert envelope["requestId"] == headers["x-request-id"]


class TestNotFoundMessage:
    @pytest.mark.parametrize("path", [
        "/a%0d%0aSet-Cookie:%20evil=1",
        "/a%1b%5b31mred%1b%5b0m",
        "/a%00b%7fc%e2%80%aed",  # NUL, DEL, U+202E (right-to-left override)
        "/a%e2%80%a8b",  # U+2028, a line separator to JavaScript
    ])
    async def test_control_characters_are_not_reflected(self, api, path):
        status, _, body = await exchange(
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
