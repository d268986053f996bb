"""Issue 16: TOTP enrolment over HTTP (setup, confirm, recovery codes, removal) and what
GET /users/me shows. Codes come from pyotp at the app's clock, moved by the test."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest

from server.core.config import Config
from tests._app import Clock, bearer
from tests.handlers._auth import PASSWORD, clocked_client, db_of, register
from tests.handlers._mfa import MFA, Client, code_at, enrol

ME = "/api/v1/users/me"


@pytest.fixture
async def ada(aiohttp_client: Any, config: Config) -> tuple[Client, Clock, str]:
    client, clock = await clocked_client(aiohttp_client, config)
    return client, clock, (await register(client))["accessToken"]


class TestSetup:
    async def test_setup_answers_secret_uri_and_svg_and_stores_no_plain_secret(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        resp = await client.post(f"{MFA}/totp/setup", headers=bearer(access), json={})
        data = (await resp.json())["data"]
        assert resp.status == 200
        assert re.fullmatch(r"[A-Z2-7]{32}", data["secret"])
        assert pyotp.parse_uri(data["otpauthUri"]).secret == data["secret"]
        assert data["qrSvg"].startswith("<svg")
        assert "</svg>" in data["qrSvg"]
        doc = await db_of(client).users.find_one({})
        assert doc["mfa"]["pendingSecret"]
        assert data["secret"] not in str(doc)  # encrypted at rest

    async def test_setup_needs_a_signed_in_user(self, ada: tuple[Client, Clock, str]) -> None:
        client, _, _ = ada
        resp = await client.post(f"{MFA}/totp/setup", json={})
        assert resp.status == 401


class TestConfirm:
    async def test_confirm_returns_ten_codes_and_stores_only_hashes(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, clock, access = ada
        _, codes = await enrol(client, access, clock)
        assert len(codes) == 10
        assert len(set(codes)) == 10
        doc = await db_of(client).users.find_one({})
        assert not any(code in str(doc) for code in codes)
        assert len(doc["mfa"]["recoveryCodes"]) == 10

    async def test_a_wrong_code_does_not_activate(self, ada: tuple[Client, Clock, str]) -> None:
        client, clock, access = ada
        resp = await client.post(f"{MFA}/totp/setup", headers=bearer(access), json={})
        secret = (await resp.json())["data"]["secret"]
        resp = await client.post(f"{MFA}/totp/confirm", headers=bearer(access),
                                 json={"code": code_at(secret, clock(), 90)})
        assert resp.status == 400
        assert (await resp.json())["code"] == "MFA_CODE_INCORRECT"
        me = await (await client.get(ME, headers=bearer(access))).json()
        assert me["data"]["user"]["mfa"] == {"totp": False, "recoveryCodesLeft": 0, "passkeys": 0}

    async def test_confirm_without_setup_and_a_second_setup_after_confirm_are_refused(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, clock, access = ada
        resp = await client.post(f"{MFA}/totp/confirm", headers=bearer(access),
                                 json={"code": "123456"})
        assert (resp.status, (await resp.json())["code"]) == (400, "MFA_SETUP_REQUIRED")
        await enrol(client, access, clock)
        resp = await client.post(f"{MFA}/totp/setup", headers=bearer(access), json={})
        assert resp.status == 409
        # The active secret is never handed out again.
        assert "secret" not in (await resp.json())

    async def test_a_setup_left_unconfirmed_expires(self, ada: tuple[Client, Clock, str]) -> None:
        client, clock, access = ada
        resp = await client.post(f"{MFA}/totp/setup", headers=bearer(access), json={})
        secret = (await resp.json())["data"]["secret"]
        clock.advance(timedelta(minutes=11))  # the access token lives 15
        resp = await client.post(f"{MFA}/totp/confirm", headers=bearer(access),
                                 json={"code": code_at(secret, clock())})
        assert resp.status == 400


class TestMe:
    async def test_me_shows_the_factors_never_a_secret(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, clock, access = ada
        secret, _ = await enrol(client, access, clock)
        body = await (await client.get(ME, headers=bearer(access))).json()
        assert body["data"]["user"]["mfa"] == {"totp": True, "recoveryCodesLeft": 10, "passkeys": 0}
        assert secret not in str(body)


class TestRegenerateAndRemove:
    async def test_regenerated_codes_replace_the_old_ones(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, clock, access = ada
        _, old = await enrol(client, access, clock)
        resp = await client.post(f"{MFA}/recovery-codes/regenerate", headers=bearer(access),
                                 json={})
        new = (await resp.json())["data"]["recoveryCodes"]
        assert resp.status == 200
        assert len(new) == 10
        assert not set(new) & set(old)

    async def test_remove_needs_the_password_and_a_current_code(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, clock, access = ada
        secret, _ = await enrol(client, access, clock)
        cases = [({"currentPassword": "Wr0ng!Passw0rd", "code": code_at(secret, clock())},
                  "CURRENT_PASSWORD_INCORRECT"),
                 ({"currentPassword": PASSWORD, "code": code_at(secret, clock(), 90)},
                  "MFA_CODE_INCORRECT")]
        for body, code in cases:
            resp = await client.delete(f"{MFA}/totp", headers=bearer(access), json=body)
            assert (resp.status, (await resp.json())["code"]) == (400, code)
        resp = await client.delete(f"{MFA}/totp", headers=bearer(access), json={
            "currentPassword": PASSWORD, "code": code_at(secret, clock())})
        assert resp.status == 200
        me = await (await client.get(ME, headers=bearer(access))).json()
        assert me["data"]["user"]["mfa"] == {"totp": False, "recoveryCodesLeft": 0, "passkeys": 0}
