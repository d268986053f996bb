"""The metrics listener's app (server/web/metrics_app.py) over HTTP, beside the real API app."""

from __future__ import annotations

import pytest

from server.observability.metrics import METRICS
from server.web.metrics_app import create_metrics_app
from tests.conftest import METRICS_AUTH


@pytest.fixture
def pair(make_client, aiohttp_client):
    """(API client, metrics-listener client) of one app, as a worker serves them."""

    async def start(config):
        api = await make_client(config)
        return api, await aiohttp_client(create_metrics_app(config, api.app[METRICS]))

    return start


class TestWithoutToken:
    async def test_prometheus_scrapes_anonymously_what_the_api_served(self, pair, make_config):
        api, metrics = await pair(make_config(metrics={"token": ""}))
        for _ in range(3):
            assert (await api.get("/health")).status == 200
        resp = await metrics.get("/metrics")
        text = await resp.text()
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        assert ('gatehouse_http_requests_total{method="GET",route="/health",status="200"} 3.0'
                in text)
        # Scrapes are not API requests: they are neither counted nor in flight.
        assert 'route="/metrics"' not in text
        assert "gatehouse_http_requests_in_flight 0.0" in text

    async def test_serves_nothing_else(self, pair, make_config):
        _, metrics = await pair(make_config(metrics={"token": ""}))
        for method, path, status in (("GET", "/", 404), ("GET", "/health", 404),
                                     ("GET", "/api/v1/users", 404), ("POST", "/metrics", 405)):
            resp = await metrics.request(method, path)
            assert resp.status == status, path
            assert (await resp.json())["success"] is False

    async def test_answers_carry_the_security_headers_and_no_server_banner(
            self, pair, make_config):
        _, metrics = await pair(make_config(metrics={"token": ""}))
        resp = await metrics.get("/metrics")
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "X-Request-ID" in resp.headers
        assert "Server" not in resp.headers


class TestWithToken:
    async def test_the_token_is_required_on_the_listener_too(self, pair, config):
        _, metrics = await pair(config)  # tests/config.test.yaml sets metrics.token
        anonymous = await metrics.get("/metrics")
        assert anonymous.status == 401
        assert (await anonymous.json())["code"] == "TOKEN_MISSING"
        wrong = await metrics.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert (await wrong.json())["code"] == "INVALID_TOKEN"
        resp = await metrics.get("/metrics", headers=METRICS_AUTH)
        assert resp.status == 200
        assert "gatehouse_db_commands_total" in await resp.text()
