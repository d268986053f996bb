"""POST /api/v1/oauth/revoke (RFC 7009) over HTTP: a holder ends its session with its refresh or
access token; unknown tokens answer 200 and end nothing; client credentials, when sent, must
be right."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
from aiohttp.test_utils import TestClient
from bson import ObjectId

from server.core.clock import utcnow
from server.core.config import Config
from server.security import create_access_token
from tests._app import bearer
from tests.handlers._auth import db_of, login, refresh, register
from tests.handlers._oauth import REVOKE, basic, new_client, revoke
from tests.handlers._users import USERS


async def me_status(client: TestClient, access: str) -> int:  # type: ignore[type-arg]
    return (await client.get(f"{USERS}/me", headers=bearer(access))).status


async def session_count(client: TestClient) -> int:  # type: ignore[type-arg]
    return int(await db_of(client).sessions.count_documents({}))


class TestHolderRevokes:
    async def test_its_refresh_token_ends_that_session_only(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        other = await login(client)
        status, body = await revoke(client, data["refreshToken"],
                                    token_type_hint="refresh_token")
        assert (status, body["success"]) == (200, True)
        assert (await refresh(client, data["refreshToken"])).status == 401
        assert await me_status(client, data["accessToken"]) == 401
        assert await me_status(client, other["accessToken"]) == 200
        assert (await refresh(client, other["refreshToken"])).status == 200

    async def test_its_access_token_ends_that_session(self, client: TestClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        status, _ = await revoke(client, data["accessToken"])
        assert status == 200
        assert await me_status(client, data["accessToken"]) == 401
        assert (await refresh(client, data["refreshToken"])).status == 401
        assert await session_count(client) == 0

    async def test_with_valid_client_credentials(self, client: TestClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        service = await new_client(client)
        status, _ = await revoke(client, data["refreshToken"], service.auth)
        assert status == 200
        assert await me_status(client, data["accessToken"]) == 401


class TestNothingElseEndsASession:
    async def test_unknown_and_malformed_tokens_answer_200(self, client: TestClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        claims = jwt.decode(data["accessToken"], options={"verify_signature": False})
        forged = jwt.encode(claims, "not-the-secret-0123456789abcdef-xyz", algorithm="HS256")
        head, _, secret = data["refreshToken"].rpartition(".")
        # A session id is no secret (it is in every access token): knowing it ends nothing.
        for token in ("x", "a.b.c", forged, f"{head}.{'A' * len(secret)}",
                      f"{claims['sid']}.{secret}", f"{ObjectId()}.{claims['sub']}.{secret}"):
            status, body = await revoke(client, token)
            assert (status, body["success"]) == (200, True), token
        assert await me_status(client, data["accessToken"]) == 200
        assert await session_count(client) == 1

    async def test_a_rotated_refresh_token_revokes_nothing(self, client: TestClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        resp = await refresh(client, data["refreshToken"])
        current = (await resp.json())["data"]
        assert (await revoke(client, data["refreshToken"]))[0] == 200
        assert await me_status(client, current["accessToken"]) == 200

    async def test_an_expired_access_token_revokes_nothing(self, client: TestClient,  # type: ignore[type-arg]
                                                           config: Config) -> None:
        data = await register(client)
        claims = jwt.decode(data["accessToken"], options={"verify_signature": False})
        expired = create_access_token(config.jwt, user_id=claims["sub"], email=claims["email"],
                                      role="user", session_id=claims["sid"],
                                      now=utcnow() - timedelta(hours=1))
        assert (await revoke(client, expired))[0] == 200
        assert await me_status(client, data["accessToken"]) == 200

    async def test_wrong_client_credentials_are_refused(self, client: TestClient) -> None:  # type: ignore[type-arg]
        data = await register(client)
        service = await new_client(client)
        for headers in (basic(service.id, "wrong"), {"Authorization": "Basic !!"}):
            async with client.post(REVOKE, data={"token": data["refreshToken"]},
                                   headers=headers) as resp:
                assert resp.status == 401
                assert resp.headers["WWW-Authenticate"].startswith("Basic")
        assert await me_status(client, data["accessToken"]) == 200

    async def test_no_token_is_a_validation_error(self, client: TestClient) -> None:  # type: ignore[type-arg]
        async with client.post(REVOKE, data={}) as resp:
            assert resp.status == 400


class TestRateLimit:
    async def test_spends_the_credential_budget(self, make_client: Any,
                                                make_config: Any) -> None:
        client = await make_client(make_config(rate_limit={
            "enabled": True, "store": "memory", "auth_max": 2, "max": 100}))
        statuses = [(await revoke(client, "x"))[0] for _ in range(3)]
        assert statuses == [200, 200, 429]
