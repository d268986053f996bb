"""POST /api/v1/oauth/introspect (RFC 7662) over HTTP: what a service learns about a token, at
once after the session ends, and only with valid client credentials."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from server.core.clock import utcnow
from server.core.config import Config
from server.security import create_access_token, new_token
from tests._app import bearer
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, PASSWORD, db_of, login, mailed_tokens, refresh, register
from tests.handlers._oauth import (
    INTROSPECT,
    ServiceClient,
    active,
    basic,
    introspect,
    new_client,
    revoke,
)
from tests.handlers._users import USERS, person_of

CLAIMS = {"active", "sub", "sid", "exp", "iat", "iss", "aud", "token_type"}


@pytest.fixture
async def service(client: TestClient) -> ServiceClient:  # type: ignore[type-arg]
    return await new_client(client)


def sid_of(access: str) -> str:
    return str(jwt.decode(access, options={"verify_signature": False})["sid"])


class TestLiveTokens:
    async def test_a_live_access_token_is_active_with_its_claims(
            self, client: TestClient, service: ServiceClient, config: Config) -> None:  # type: ignore[type-arg]
        data = await register(client)
        status, body, headers = await introspect(client, data["accessToken"], service.auth)
        assert status == 200
        assert set(body) == CLAIMS
        claims = jwt.decode(data["accessToken"], options={"verify_signature": False})
        assert body == {"active": True, "sub": data["user"]["id"], "sid": claims["sid"],
                        "exp": claims["exp"], "iat": claims["iat"], "iss": config.jwt.issuer,
                        "aud": config.jwt.audience, "token_type": "access_token"}
        assert headers["Cache-Control"] == "no-store"

    async def test_a_live_refresh_token_is_active_and_not_rotated(
            self, client: TestClient, service: ServiceClient, config: Config) -> None:  # type: ignore[type-arg]
        data = await register(client)
        status, body, _ = await introspect(client, data["refreshToken"], service.auth)
        assert status == 200
        assert set(body) == CLAIMS
        assert body["active"] is True
        assert body["token_type"] == "refresh_token"
        assert (body["sub"], body["sid"]) == (data["user"]["id"], sid_of(data["accessToken"]))
        assert (body["iss"], body["aud"]) == (config.jwt.issuer, config.jwt.audience)
        session = await db_of(client).sessions.find_one({"_id": body["sid"]})
        assert body["exp"] == int(session["expiresAt"].timestamp())
        assert body["iat"] == int(session["createdAt"].timestamp())
        # Asking twice, then refreshing with the very token: it was never rotated.
        assert await active(client, service, data["refreshToken"])
        resp = await refresh(client, data["refreshToken"])
        assert resp.status == 200
        assert (await db_of(client).sessions.find_one({"_id": body["sid"]}))["generation"] == 1

    async def test_a_rotated_refresh_token_is_inactive_its_successor_active(
            self, client: TestClient, service: ServiceClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        resp = await refresh(client, data["refreshToken"])
        successor = (await resp.json())["data"]["refreshToken"]
        assert not await active(client, service, data["refreshToken"])
        assert await active(client, service, successor)
        # Introspecting the rotated token is not a replay: the session lives on.
        assert await active(client, service, data["accessToken"])

    @pytest.mark.parametrize("hint", ["access_token", "refresh_token", "bogus"])
    async def test_the_hint_is_only_a_hint(self, client: TestClient, service: ServiceClient,  # type: ignore[type-arg]
                                           hint: str) -> None:
        data = await register(client)
        assert await active(client, service, data["accessToken"], token_type_hint=hint)
        assert await active(client, service, data["refreshToken"], token_type_hint=hint)


async def _both_inactive_within_a_second(client: TestClient, service: ServiceClient,  # type: ignore[type-arg]
                                         ended_at: float, *tokens: str) -> None:
    for token in tokens:
        assert not await active(client, service, token)
    assert time.monotonic() - ended_at < 1.0


class TestInactiveOnceTheSessionEnds:
    async def test_logout(self, client: TestClient, service: ServiceClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        assert await active(client, service, data["accessToken"])
        resp = await client.post(f"{AUTH}/logout", headers=bearer(data["accessToken"]))
        assert resp.status == 200
        await _both_inactive_within_a_second(client, service, time.monotonic(),
                                             data["accessToken"], data["refreshToken"])

    async def test_logout_all(self, client: TestClient, service: ServiceClient) -> None:  # type: ignore[type-arg]
        first = await register(client)
        second = await login(client)
        resp = await client.post(f"{AUTH}/logout-all", headers=bearer(second["accessToken"]))
        assert resp.status == 200
        await _both_inactive_within_a_second(
            client, service, time.monotonic(), first["accessToken"], first["refreshToken"],
            second["accessToken"], second["refreshToken"])

    async def test_password_change_ends_the_other_sessions(
            self, client: TestClient, service: ServiceClient) -> None:  # type: ignore[type-arg]
        other = await register(client)
        current = await login(client)
        resp = await client.post(f"{USERS}/me/password", headers=bearer(current["accessToken"]),
                                 json={"currentPassword": PASSWORD,
                                       "newPassword": "N3w!Passw0rd-ok"})
        assert resp.status == 200
        await _both_inactive_within_a_second(client, service, time.monotonic(),
                                             other["accessToken"], other["refreshToken"])
        assert await active(client, service, current["accessToken"])

    async def test_password_reset(self, mail_client: TestClient,  # type: ignore[type-arg]
                                  smtp_server: SmtpSink) -> None:
        service = await new_client(mail_client)
        data = await register(mail_client)
        await mail_client.post(f"{AUTH}/forgot-password", json={"email": "ada@example.com"})
        (token,) = await mailed_tokens(smtp_server, "ada@example.com", "reset-password")
        resp = await mail_client.post(f"{AUTH}/reset-password/{token}",
                                      json={"password": "N3w!Passw0rd-ok"})
        assert resp.status == 200
        await _both_inactive_within_a_second(mail_client, service, time.monotonic(),
                                             data["accessToken"], data["refreshToken"])

    async def test_self_deactivation(self, client: TestClient, service: ServiceClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        resp = await client.delete(f"{USERS}/me", headers=bearer(data["accessToken"]),
                                   json={"currentPassword": PASSWORD})
        assert resp.status == 200
        await _both_inactive_within_a_second(client, service, time.monotonic(),
                                             data["accessToken"], data["refreshToken"])

    async def test_deactivation_by_an_admin(self, client: TestClient,  # type: ignore[type-arg]
                                            service: ServiceClient) -> None:
        admin = await person_of(client, "admin")
        target = await person_of(client)
        resp = await client.patch(f"{USERS}/{target.id}", headers=admin.auth,
                                  json={"isActive": False})
        assert resp.status == 200
        await _both_inactive_within_a_second(client, service, time.monotonic(),
                                             target.token, target.refresh_token)

    async def test_a_deactivated_user_whose_session_is_still_listed(
            self, client: TestClient, service: ServiceClient) -> None:  # type: ignore[type-arg]
        # Defence in depth: an inactive account's tokens are inactive even if a session
        # was somehow left on it.
        data = await register(client)
        await db_of(client).users.update_one({"_id": ObjectId(data["user"]["id"])},
                                             {"$set": {"isActive": False}})
        assert not await active(client, service, data["accessToken"])
        assert not await active(client, service, data["refreshToken"])

    async def test_revocation(self, client: TestClient, service: ServiceClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        assert (await revoke(client, data["refreshToken"]))[0] == 200
        await _both_inactive_within_a_second(client, service, time.monotonic(),
                                             data["accessToken"], data["refreshToken"])


def _forged(config: Config, user_id: str, sid: str, **changes: Any) -> str:
    now = int(utcnow().timestamp())
    claims = {"sub": user_id, "email": "ada@example.com", "role": "admin", "sid": sid,
              "jti": "x", "iat": now, "exp": now + 600, "iss": config.jwt.issuer,
              "aud": config.jwt.audience, **changes}
    return jwt.encode(claims, "not-the-secret-0123456789abcdef-xyz", algorithm="HS256")


class TestAnythingElseIsInactive:
    async def test_malformed_unknown_expired_and_forged_tokens(
            self, client: TestClient, service: ServiceClient, config: Config) -> None:  # type: ignore[type-arg]
        data = await register(client)
        uid, sid = data["user"]["id"], sid_of(data["accessToken"])
        expired = create_access_token(config.jwt, user_id=uid, email="ada@example.com",
                                      role="user", session_id=sid,
                                      now=utcnow() - timedelta(hours=1))
        unsigned = jwt.encode(jwt.decode(data["accessToken"],
                                         options={"verify_signature": False}),
                              None, algorithm="none")
        head, _, secret = data["refreshToken"].rpartition(".")
        candidates = [
            "x", "a.b.c", "....", "é" * 100, data["accessToken"][:-3] + "abc", expired,
            unsigned, _forged(config, uid, sid), f"{head}.{new_token()}",
            f"{sid}.{secret}", f"{ObjectId()!s}.{uid}.{secret}", data["refreshToken"] + ".",
            data["accessToken"] + data["refreshToken"],
        ]
        for token in candidates:
            status, body, _ = await introspect(client, token, service.auth)
            assert (status, body) == (200, {"active": False}), token
        # None of that ended anything.
        assert await active(client, service, data["accessToken"])
        assert await active(client, service, data["refreshToken"])

    async def test_no_token_is_a_validation_error(self, client: TestClient,  # type: ignore[type-arg]
                                                  service: ServiceClient) -> None:
        resp = await client.post(INTROSPECT, data={}, headers=service.auth)
        assert resp.status == 400
        resp = await client.post(INTROSPECT, data={"token": "x", "extra": "1"},
                                 headers=service.auth)
        assert resp.status == 400


class TestClientAuthentication:
    @pytest.mark.parametrize("headers", [
        {}, {"Authorization": "Basic"}, {"Authorization": "Basic !!!notbase64"},
        {"Authorization": "Basic " + "YWJj"},  # "abc": no colon
        {"Authorization": "Bearer whatever"},
    ], ids=["missing", "empty", "garbled", "no-colon", "bearer"])
    async def test_missing_or_malformed_credentials(
            self, client: TestClient, headers: dict[str, str]) -> None:  # type: ignore[type-arg]
        data = await register(client)
        await new_client(client)
        status, body, answer = await introspect(client, data["accessToken"], headers)
        assert status == 401
        assert answer["WWW-Authenticate"].startswith("Basic")
        assert body["code"] == "INVALID_CLIENT"
        assert "active" not in body

    async def test_wrong_secret_unknown_id_and_a_user_token(
            self, client: TestClient, service: ServiceClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        flipped = service.secret[:-1] + ("A" if service.secret[-1] != "A" else "B")
        for headers in (basic(service.id, flipped),
                        basic(service.id, ""), basic(str(ObjectId()), service.secret),
                        basic(service.id + "x", service.secret),
                        bearer(data["accessToken"])):
            status, body, answer = await introspect(client, data["accessToken"], headers)
            assert status == 401, headers
            assert answer["WWW-Authenticate"].startswith("Basic")
            assert service.secret not in str(body)

    async def test_a_deleted_client_is_refused(self, client: TestClient,  # type: ignore[type-arg]
                                               service: ServiceClient) -> None:
        from server.services.clients import delete_client

        data = await register(client)
        assert await active(client, service, data["accessToken"])
        assert await delete_client(db_of(client), service.id)
        status, _, _ = await introspect(client, data["accessToken"], service.auth)
        assert status == 401

    async def test_only_a_hash_of_the_secret_is_stored(self, client: TestClient,  # type: ignore[type-arg]
                                                       service: ServiceClient) -> None:
        docs = [doc async for doc in db_of(client).clients.find({})]
        assert len(docs) == 1
        assert service.secret not in str(docs)
        assert len(service.secret) >= 40  # 256 bits, URL-safe


class TestRateLimit:
    async def test_spends_the_credential_budget(self, make_client: Any,
                                                make_config: Any) -> None:
        client = await make_client(make_config(rate_limit={
            "enabled": True, "store": "memory", "auth_max": 3, "max": 100}))
        service = await new_client(client)
        statuses = [(await introspect(client, "x", service.auth))[0] for _ in range(2)]
        # Failed client authentication spends it too (guessing secrets is what it stops).
        statuses.append((await introspect(client, "x", basic(service.id, "wrong")))[0])
        statuses.append((await introspect(client, "x", service.auth))[0])
        assert statuses == [200, 200, 401, 429]


class TestNothingSecretIsLogged:
    async def test_tokens_and_client_secrets_stay_out_of_every_log_record(
            self, client: TestClient, service: ServiceClient,  # type: ignore[type-arg]
            caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        data = await register(client)
        await introspect(client, data["accessToken"], service.auth)
        await introspect(client, data["refreshToken"], basic(service.id, service.secret + "x"))
        await revoke(client, data["refreshToken"], basic(service.id, "guess"))
        await revoke(client, data["refreshToken"])
        denied = [r for r in caplog.records if r.getMessage() == "client_auth_denied"]
        assert len(denied) == 2
        logged = "\n".join(str(record.__dict__) for record in caplog.records)
        for secret in (service.secret, data["accessToken"], data["refreshToken"],
                       data["refreshToken"].rpartition(".")[2], "guess"):
            assert secret not in logged
        assert "revoked_refresh_token" in logged  # the session_ended event says why
