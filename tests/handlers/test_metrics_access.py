"""GET /metrics on the API port: anonymous clients never see it (404 without metrics.token, 401
without its bearer), so the database-command counters cannot tell them who is registered."""

from __future__ import annotations

import pytest

from tests.conftest import METRICS_AUTH, METRICS_TOKEN
from tests.handlers._auth import AUTH, register

KNOWN, UNKNOWN = "ada@example.com", "nobody@example.com"


def volatile_free(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("requestId", "timestamp")}


@pytest.fixture
async def tokenless(make_client, make_config):
    """The shipped default: no metrics.token, so the API port serves no metrics at all."""
    return await make_client(make_config(metrics={"token": ""}))


class TestEnumerationThroughMetrics:
    async def test_forgot_password_on_known_and_unknown_addresses_look_alike(self, tokenless):
        await register(tokenless, KNOWN)
        answers = []
        for email in (KNOWN, UNKNOWN):
            resp = await tokenless.post(f"{AUTH}/forgot-password", json={"email": email})
            assert resp.status == 200
            # The attacker's read of the database-command counters after each request.
            scrape = await tokenless.get("/metrics")
            text = await scrape.text()
            assert scrape.status == 404, text[:200]
            assert "gatehouse_db_commands_total" not in text
            answers.append(volatile_free(await scrape.json()))
        assert answers[0] == answers[1]

    async def test_with_a_token_configured_anonymous_scrapes_are_401(self, client):
        await register(client, KNOWN)
        await client.post(f"{AUTH}/forgot-password", json={"email": KNOWN})
        resp = await client.get("/metrics")
        body = await resp.json()
        assert resp.status == 401
        assert body["code"] == "TOKEN_MISSING"
        assert "gatehouse_db_commands_total" not in str(body)


class TestApiPortWithoutToken:
    async def test_answers_exactly_like_an_unknown_route(self, tokenless):
        resp = await tokenless.get("/metrics", headers=METRICS_AUTH)
        body = await resp.json()
        assert resp.status == 404
        assert body["code"] == "NOT_FOUND"
        assert body["error"] == "Route /metrics not found"
        other = await (await tokenless.get("/metricz")).json()
        assert volatile_free(other) == {**volatile_free(body), "error": "Route /metricz not found"}


class TestApiPortWithToken:
    @pytest.mark.parametrize(("header", "code"), [
        ("Bearer wrong-token", "INVALID_TOKEN"),
        (f"Bearer {METRICS_TOKEN}x", "INVALID_TOKEN"),
        (f"Bearer {METRICS_TOKEN[:-1]}", "INVALID_TOKEN"),
        (f"Basic {METRICS_TOKEN}", "TOKEN_MISSING"),
        ("Bearer ", "TOKEN_MISSING"),
    ])
    async def test_anything_but_the_token_is_401(self, client, header, code):
        resp = await client.get("/metrics", headers={"Authorization": header})
        assert resp.status == 401
        assert (await resp.json())["code"] == code

    async def test_a_non_ascii_token_is_401_not_500(self, client):
        resp = await client.get("/metrics", headers={"Authorization": "Bearer tøken"})
        assert resp.status == 401

    async def test_the_bearer_of_the_token_scrapes(self, client):
        resp = await client.get("/metrics", headers=METRICS_AUTH)
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        assert "gatehouse_db_commands_total" in await resp.text()


class TestDocumented:
    async def test_openapi_shows_the_token_and_the_404(self, client):
        doc = await (await client.get("/api-docs/openapi.json")).json()
        responses = doc["paths"]["/metrics"]["get"]["responses"]
        assert {"200", "401", "404"} <= set(responses)
        assert "metrics.port" in doc["paths"]["/metrics"]["get"]["description"]
