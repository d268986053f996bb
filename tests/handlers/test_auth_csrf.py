"""Login CSRF: cookie routes refuse a foreign Origin and a cross-site form (403 CSRF_REJECTED)."""

from __future__ import annotations

import logging

import pytest

from tests._app import bearer
from tests.handlers._auth import AUTH, PASSWORD, person, register

ALLOWED = "http://localhost:3000"  # cors.allowed_origins of tests/config.test.yaml
EVIL = "https://evil.example"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CREDENTIALS = {"email": "ada@example.com", "password": PASSWORD}


def assert_refused(resp, body) -> None:
    assert resp.status == 403, body
    assert body["success"] is False
    assert body["code"] == "CSRF_REJECTED"
    assert "Set-Cookie" not in resp.headers


class TestCrossSiteForms:
    async def test_cross_site_form_login_is_refused_and_plants_no_cookie(self, client):
        await register(client)
        # What a hidden auto-submitting <form> on another site sends from the victim's browser.
        resp = await client.post(f"{AUTH}/login", data=CREDENTIALS, headers={
            "Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
        assert_refused(resp, await resp.json())

    async def test_cross_site_form_without_origin_is_refused(self, client):
        # Sec-Fetch-Site alone (a browser or proxy that strips Origin) is enough.
        await register(client)
        resp = await client.post(f"{AUTH}/login", data=CREDENTIALS,
                                 headers={"Sec-Fetch-Site": "cross-site"})
        assert_refused(resp, await resp.json())

    async def test_foreign_origin_with_json_is_refused(self, client):
        await register(client)
        resp = await client.post(f"{AUTH}/login", json=CREDENTIALS, headers={"Origin": EVIL})
        assert_refused(resp, await resp.json())

    @pytest.mark.parametrize("origin", ["null", "http://localhost:3001", "https://localhost:3000"])
    async def test_near_misses_are_foreign(self, client, origin):
        resp = await client.post(f"{AUTH}/register", json=person(),
                                 headers={"Origin": origin})
        assert_refused(resp, await resp.json())
        # Nothing was created: the address is still free.
        assert (await client.post(f"{AUTH}/register", json=person())).status == 201


class TestEveryCookieRoute:
    async def test_refresh_logout_and_logout_all_refuse_a_foreign_origin(self, client):
        signed_in = await register(client)
        cookie = {"Cookie": f"refreshToken={signed_in['refreshToken']}"}
        for path, headers in (("refresh-token", cookie),
                              ("logout", bearer(signed_in["accessToken"])),
                              ("logout-all", bearer(signed_in["accessToken"]))):
            resp = await client.post(f"{AUTH}/{path}", json={},
                                     headers={**headers, "Origin": EVIL})
            assert_refused(resp, await resp.json())
        # None of them acted: the session still refreshes.
        resp = await client.post(f"{AUTH}/refresh-token", json={}, headers=cookie)
        assert resp.status == 200

    async def test_other_routes_are_not_guarded(self, client):
        resp = await client.post(f"{AUTH}/forgot-password", json={"email": "x@example.com"},
                                 headers={"Origin": EVIL})
        assert resp.status == 200


class TestLegitimateClients:
    async def test_allowed_origin_signs_in(self, client):
        await register(client)
        resp = await client.post(f"{AUTH}/login", json=CREDENTIALS, headers={
            "Origin": ALLOWED, "Sec-Fetch-Site": "same-site"})
        assert resp.status == 200
        assert resp.cookies["refreshToken"].value

    async def test_allowed_cross_site_app_with_json_signs_in(self, client):
        # A browser app on another site that the operator allowed: JSON, so CORS preflighted it.
        await register(client)
        resp = await client.post(f"{AUTH}/login", json=CREDENTIALS, headers={
            "Origin": ALLOWED, "Sec-Fetch-Site": "cross-site"})
        assert resp.status == 200

    async def test_no_origin_signs_in(self, client):
        # curl, mobile apps, server-to-server: no Origin, no Sec-Fetch-* headers.
        await register(client)
        resp = await client.post(f"{AUTH}/login", json=CREDENTIALS)
        assert resp.status == 200
        assert resp.cookies["refreshToken"].value

    async def test_same_origin_form_signs_in(self, client):
        await register(client)
        resp = await client.post(f"{AUTH}/login", data=CREDENTIALS, headers={
            "Origin": ALLOWED, "Sec-Fetch-Site": "same-origin"})
        assert resp.status == 200


class TestRefusedEarly:
    async def test_refused_before_the_credential_budget_is_spent(self, make_client, make_config):
        client = await make_client(make_config(environ={
            "APP__RATE_LIMIT__ENABLED": "true", "APP__RATE_LIMIT__STORE": "memory",
            "APP__RATE_LIMIT__AUTH_MAX": "2"}))
        # A page the victim keeps open cannot burn the victim's login budget either.
        for _ in range(4):
            resp = await client.post(f"{AUTH}/login", data=CREDENTIALS, headers={
                "Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
            assert resp.status == 403
        assert (await client.post(f"{AUTH}/register", json=person())).status == 201

    async def test_refusal_is_a_security_event(self, client, caplog):
        caplog.set_level(logging.INFO, logger="gatehouse.security")
        await client.post(f"{AUTH}/login", data=CREDENTIALS, headers={"Origin": EVIL})
        (record,) = [r for r in caplog.records if r.getMessage() == "cross_site_rejected"]
        assert record.fields["reason"] == "origin_not_allowed"  # type: ignore[attr-defined]
        assert record.fields["origin"] == EVIL  # type: ignore[attr-defined]
        assert PASSWORD not in caplog.text


class TestDocumented:
    async def test_openapi_lists_the_403_on_each_cookie_route(self, client):
        paths = (await (await client.get("/api-docs/openapi.json")).json())["paths"]
        for name in ("register", "login", "refresh-token", "logout", "logout-all"):
            examples = paths[f"{AUTH}/{name}"]["post"]["responses"]["403"]["content"][
                "application/json"]["examples"]
            assert "CSRF_REJECTED" in examples, name
