"""server/web/hardening.py: aiohttp's parser-level answers (malformed requests) echo no client
bytes; they carry our fixed JSON envelope instead of aiohttp's text quoting the request."""

from __future__ import annotations

import logging

import orjson
import pytest

from tests._app import raw_exchange

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


class TestParserLevelAnswers:
    @pytest.mark.parametrize("request_bytes", MALFORMED, ids=MALFORMED_IDS)
    async def test_no_client_bytes_in_the_answer(self, api, request_bytes, caplog):
        caplog.set_level(logging.CRITICAL, logger="aiohttp.server")
        status, headers, body = await raw_exchange(api, request_bytes)
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
