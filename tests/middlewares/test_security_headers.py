"""helmet's default headers on every response, no server banner, `no-store` on the API."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from tests._app import PREFIX, raw_exchange
from tests.conftest import METRICS_AUTH

JSON = {"Content-Type": "application/json"}
FRESH_ID = re.compile(r"^[0-9a-f]{32}$")

# The contract's list, verbatim (API.md "Conventions").
EXACT = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Origin-Agent-Cluster": "?1",
    "X-DNS-Prefetch-Control": "off",
    "X-Download-Options": "noopen",
    "X-Permitted-Cross-Domain-Policies": "none",
    "X-XSS-Protection": "0",
}
# helmet's default Content-Security-Policy directives.
CSP_DIRECTIVES = {
    "default-src 'self'", "base-uri 'self'", "font-src 'self' https: data:",
    "form-action 'self'", "frame-ancestors 'self'", "img-src 'self' data:",
    "object-src 'none'", "script-src 'self'", "script-src-attr 'none'",
    "style-src 'self' https: 'unsafe-inline'", "upgrade-insecure-requests",
}

RESPONSES: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/health", {}, 200),
    ("GET", "/metrics", {"headers": METRICS_AUTH}, 200),
    ("GET", "/metrics", {}, 401),
    ("GET", f"{PREFIX}/big?size=10", {}, 200),
    ("POST", f"{PREFIX}/echo", {"json": {"name": "n"}}, 200),
    ("GET", "/nowhere", {}, 404),
    ("GET", "/api/v1/nowhere", {}, 404),
    ("PUT", "/health", {}, 405),
    ("POST", f"{PREFIX}/echo", {"data": b"{", "headers": JSON}, 400),
    ("POST", f"{PREFIX}/echo", {"json": {"bogus": 1}}, 400),
    ("POST", f"{PREFIX}/echo", {"data": b"x" * 200_000, "headers": JSON}, 413),
    ("POST", f"{PREFIX}/echo", {"data": b"<a/>", "headers": {"Content-Type": "text/xml"}}, 415),
    ("GET", f"{PREFIX}/boom", {}, 500),
    ("HEAD", "/health", {}, 200),
]
IDS = [f"{m} {p} {s}" for m, p, _, s in RESPONSES]


class TestHelmetHeaders:
    @pytest.mark.parametrize(("method", "path", "kwargs", "status"), RESPONSES, ids=IDS)
    async def test_every_response_carries_them(self, api, method, path, kwargs, status):
        resp = await api.request(method, path, **kwargs)
        assert resp.status == status
        for name, value in EXACT.items():
            assert resp.headers.get(name) == value, name
        csp = resp.headers["Content-Security-Policy"]
        assert set(csp.split(";")) == CSP_DIRECTIVES

    async def test_each_header_appears_once(self, api):
        resp = await api.get("/api/v1/nowhere")
        for name in [*EXACT, "Content-Security-Policy", "X-Request-ID", "Cache-Control"]:
            assert len(resp.headers.getall(name)) == 1, name


class TestNoServerBanner:
    @pytest.mark.parametrize(("method", "path", "kwargs", "status"), RESPONSES, ids=IDS)
    async def test_nothing_reveals_the_software(self, api, method, path, kwargs, status):
        resp = await api.request(method, path, **kwargs)
        assert resp.status == status
        assert "Server" not in resp.headers
        assert "X-Powered-By" not in resp.headers
        for name, value in resp.headers.items():
            text = f"{name}: {value}".lower()
            assert "aiohttp" not in text
            assert "python" not in text

    async def test_error_bodies_do_not_name_the_framework(self, api):
        for path in ("/nowhere", f"{PREFIX}/boom"):
            body = (await (await api.get(path)).read()).lower()
            assert b"aiohttp" not in body
            assert b"python" not in body
            assert b"traceback" not in body


class TestCacheControl:
    @pytest.mark.parametrize(("method", "path", "kwargs", "status"),
                             [r for r in RESPONSES if r[1].startswith("/api/v1")],
                             ids=[i for i, r in zip(IDS, RESPONSES, strict=True)
                                  if r[1].startswith("/api/v1")])
    async def test_api_responses_are_not_stored(self, api, method, path, kwargs, status):
        resp = await api.request(method, path, **kwargs)
        assert resp.status == status
        assert resp.headers["Cache-Control"] == "no-store"

    async def test_outside_the_api_it_is_not_forced(self, api):
        for path in ("/health", "/nowhere"):
            resp = await api.get(path)
            assert resp.headers.get("Cache-Control") != "no-store"

    async def test_api_prefix_must_match_a_path_segment(self, api):
        # /api/v10 is not under /api/v1.
        resp = await api.get("/api/v10/x")
        assert resp.status == 404
        assert resp.headers.get("Cache-Control") != "no-store"


class TestMalformedRequests:
    """aiohttp's parser answers these itself, before any middleware: still no banner."""

    @pytest.mark.parametrize("request_bytes", [
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc\n def\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-ID: ab\x01c\r\n\r\n",
        b"NOT-HTTP\r\n\r\n",
    ], ids=["bare-newline", "control-char", "garbage"])
    async def test_parser_errors_are_hardened(self, api, request_bytes, caplog):
        caplog.set_level(logging.CRITICAL, logger="aiohttp.server")
        status, headers, _ = await raw_exchange(api, request_bytes)
        assert " 400 " in status
        assert "server" not in headers
        for name, value in EXACT.items():
            assert headers[name.lower()] == value
        assert FRESH_ID.fullmatch(headers["x-request-id"])

    async def test_well_formed_raw_request_is_unchanged(self, api):
        status, headers, _ = await raw_exchange(
            api, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-ID: raw-1\r\n"
                 b"Connection: close\r\n\r\n")
        assert " 200 " in status
        assert headers["x-request-id"] == "raw-1"
        assert "server" not in headers
