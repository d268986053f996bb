"""CORS: configured origins get CORS headers on simple requests and preflights; others get none."""

from __future__ import annotations

import pytest

ALLOWED = "http://localhost:3000"
EVIL = "http://evil.example"
LOGIN = "/api/v1/auth/login"


def preflight(origin: str, method: str, headers: str | None = None) -> dict[str, str]:
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return sent


def cors_headers(resp) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


def varies_on_origin(resp) -> bool:
    return "origin" in ",".join(resp.headers.getall("Vary", ())).lower()


class TestSimpleRequests:
    @pytest.mark.parametrize(("method", "path", "status"), [
        ("GET", "/health", 200),
        ("GET", "/api/v1/auth/sessions", 401),  # an error from a routed handler
        ("GET", "/api/v1/nowhere", 404),
        ("DELETE", "/health", 405),
    ])
    async def test_allowed_origin_gets_cors_headers(self, client, method, path, status):
        resp = await client.request(method, path, headers={"Origin": ALLOWED})
        assert resp.status == status
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        exposed = {h.strip().lower() for h in
                   resp.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"x-request-id", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
                "retry-after"} <= exposed
        assert varies_on_origin(resp)

    @pytest.mark.parametrize("origin", [EVIL, "null", "http://localhost:3001",
                                        "https://localhost:3000"])
    async def test_other_origins_get_none(self, client, origin):
        for method, path in (("GET", "/health"), ("GET", "/api/v1/nowhere"),
                             ("POST", LOGIN)):
            resp = await client.request(method, path, headers={"Origin": origin}, json={})
            assert cors_headers(resp) == {}, (method, path)
            assert varies_on_origin(resp)

    async def test_no_origin_no_cors(self, client):
        resp = await client.get("/health")
        assert cors_headers(resp) == {}
        assert varies_on_origin(resp)


class TestPreflight:
    async def test_allowed_origin(self, client):
        resp = await client.options(LOGIN, headers=preflight(
            ALLOWED, "POST", "content-type,authorization,x-request-id"))
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        assert "POST" in resp.headers["Access-Control-Allow-Methods"]
        allowed = {h.strip().lower() for h in
                   resp.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"content-type", "authorization", "x-request-id"} <= allowed
        assert int(resp.headers["Access-Control-Max-Age"]) > 0

    async def test_route_with_a_path_parameter(self, client):
        resp = await client.options("/api/v1/auth/sessions/abc",
                                    headers=preflight(ALLOWED, "DELETE", "authorization"))
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Methods"] == "DELETE"

    @pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
    async def test_each_method_of_a_multi_method_path(self, client, method):
        resp = await client.options("/api/v1/users/me",
                                    headers=preflight(ALLOWED, method, "authorization"))
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Methods"] == method
        assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED

    @pytest.mark.parametrize(("path", "method"), [(LOGIN, "GET"), (LOGIN, "DELETE"),
                                                  ("/health", "POST"), ("/api/v1/users/me", "PUT")])
    async def test_method_the_path_does_not_serve_is_refused(self, client, path, method):
        # Approving it would only lead the browser to a 405.
        resp = await client.options(path, headers=preflight(ALLOWED, method))
        assert resp.status == 403
        assert "Access-Control-Allow-Origin" not in resp.headers

    async def test_preflight_carries_the_usual_headers(self, client):
        resp = await client.options(LOGIN, headers={**preflight(ALLOWED, "POST"),
                                                    "X-Request-ID": "pf-1"})
        assert resp.headers["X-Request-ID"] == "pf-1"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "Server" not in resp.headers

    @pytest.mark.parametrize("origin", [EVIL, "null"])
    async def test_disallowed_origin_is_refused(self, client, origin):
        resp = await client.options(LOGIN, headers=preflight(origin, "POST", "content-type"))
        assert resp.status == 403
        assert cors_headers(resp) == {}
        body = await resp.json()
        assert body["success"] is False
        assert body["requestId"] == resp.headers["X-Request-ID"]

    async def test_unlisted_request_header_is_refused(self, client):
        resp = await client.options(LOGIN, headers=preflight(ALLOWED, "POST", "x-custom"))
        assert resp.status == 403
        assert "Access-Control-Allow-Origin" not in resp.headers

    async def test_unknown_path(self, client):
        resp = await client.options("/api/v1/nowhere", headers=preflight(ALLOWED, "GET"))
        assert resp.status == 404
        assert "Access-Control-Allow-Methods" not in resp.headers


class TestConfigured:
    async def test_origins_and_credentials_follow_config(self, make_config, make_client):
        config = make_config(cors={"allowed_origins": ("https://app.example",),
                                   "credentials": False})
        client = await make_client(config)
        ok = await client.get("/health", headers={"Origin": "https://app.example"})
        assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert "Access-Control-Allow-Credentials" not in ok.headers
        old = await client.get("/health", headers={"Origin": ALLOWED})
        assert cors_headers(old) == {}
        pre = await client.options(LOGIN, headers=preflight("https://app.example", "POST"))
        assert pre.status == 200
        assert "Access-Control-Allow-Credentials" not in pre.headers

    async def test_origins_from_the_environment(self, make_config, make_client):
        config = make_config(environ={
            "APP__CORS__ALLOWED_ORIGINS": "https://a.example, https://b.example"})
        client = await make_client(config)
        for origin in ("https://a.example", "https://b.example"):
            resp = await client.get("/health", headers={"Origin": origin})
            assert resp.headers["Access-Control-Allow-Origin"] == origin
