"""Access tokens over HTTP: require_user's 401/403 answers for every kind of bad token."""

from __future__ import annotations

import base64
import logging
import time
import warnings
from datetime import timedelta
from typing import Any

import jwt
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo import monitoring

from handlers._auth import require_user
from server.core.config import Config
from server.core.keys import USER_ID
from tests._app import bearer, build_app
from tests.handlers._auth import AUTH, clocked_client, db_of, register

SESSIONS = f"{AUTH}/sessions"


def forge(config: Config, claims: dict[str, Any], *, secret: str | None = None,
          algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret or config.jwt.secret, algorithm=algorithm)


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})  # type: ignore[no-any-return]


async def denial(client: TestClient, headers: dict[str, str]) -> tuple[int, str]:  # type: ignore[type-arg]
    resp = await client.get(SESSIONS, headers=headers)
    return resp.status, (await resp.json())["error"]


class TestAccessTokenShape:
    async def test_carries_the_contract_claims(self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        data = await register(client)
        token = data["accessToken"]
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
        claims = claims_of(token)
        # Issue 16 adds how and when the user authenticated: amr and auth_time.
        assert set(claims) == {"sub", "email", "role", "sid", "jti", "iat", "exp", "iss", "aud",
                               "amr", "auth_time"}
        assert (claims["amr"], claims["auth_time"]) == (["pwd"], claims["iat"])
        assert claims["sub"] == data["user"]["id"]
        assert claims["role"] == "user"
        assert claims["iss"] == config.jwt.issuer
        assert claims["aud"] == config.jwt.audience
        assert claims["exp"] - claims["iat"] == 15 * 60


class TestMissingOrMalformed:
    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer "},
                                         {"Authorization": "Basic YTpi"}])
    async def test_no_bearer_token(self, client: TestClient,  # type: ignore[type-arg]
                                   headers: dict[str, str]) -> None:
        assert await denial(client, headers) == (401, "Access token is required")

    @pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.x"])
    async def test_malformed_token(self, client: TestClient, token: str) -> None:  # type: ignore[type-arg]
        assert await denial(client, bearer(token)) == (401, "Invalid token")


class TestRefusedTokens:
    async def test_wrong_signature(self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        claims = claims_of((await register(client))["accessToken"])
        token = forge(config, claims, secret="another-secret-of-enough-length-000")
        assert await denial(client, bearer(token)) == (401, "Invalid token")

    @pytest.mark.parametrize(("claim", "value"), [("iss", "someone-else"), ("aud", "other-api")])
    async def test_wrong_issuer_or_audience(self, client: TestClient, config: Config,  # type: ignore[type-arg]
                                            claim: str, value: str) -> None:
        claims = claims_of((await register(client))["accessToken"])
        token = forge(config, {**claims, claim: value})
        assert await denial(client, bearer(token)) == (401, "Invalid token")

    async def test_alg_none(self, client: TestClient) -> None:  # type: ignore[type-arg]
        claims = claims_of((await register(client))["accessToken"])

        def part(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()

        token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
        assert await denial(client, bearer(token)) == (401, "Invalid token")

    async def test_other_hmac_algorithm_with_the_right_secret(
            self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        claims = claims_of((await register(client))["accessToken"])
        with warnings.catch_warnings():  # PyJWT warns that the test secret is short for HS512
            warnings.simplefilter("ignore")
            token = forge(config, claims, algorithm="HS512")
        assert await denial(client, bearer(token)) == (401, "Invalid token")

    async def test_missing_claim(self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        claims = claims_of((await register(client))["accessToken"])
        del claims["sid"]
        assert await denial(client, bearer(forge(config, claims))) == (401, "Invalid token")

    async def test_unknown_session(self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        claims = claims_of((await register(client))["accessToken"])
        token = forge(config, {**claims, "sid": "0" * 24})
        assert await denial(client, bearer(token)) == (401, "Invalid token")

    async def test_deactivated_user(self, client: TestClient) -> None:  # type: ignore[type-arg]
        token = (await register(client))["accessToken"]
        await db_of(client).users.update_one({}, {"$set": {"isActive": False}})
        assert await denial(client, bearer(token)) == (401, "Invalid token")

    async def test_expired_by_the_app_clock(self, aiohttp_client: Any, config: Config) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        token = (await register(client))["accessToken"]
        clock.advance(timedelta(minutes=14, seconds=59))
        assert (await client.get(SESSIONS, headers=bearer(token))).status == 200
        clock.advance(timedelta(seconds=1))
        assert await denial(client, bearer(token)) == (401, "Token expired")

    async def test_expired_token_reports_token_expired(self, client: TestClient,  # type: ignore[type-arg]
                                                       config: Config) -> None:
        claims = claims_of((await register(client))["accessToken"])
        past = int(time.time()) - 60
        token = forge(config, {**claims, "iat": past - 900, "exp": past})
        status, error = await denial(client, bearer(token))
        assert (status, error) == (401, "Token expired")
        resp = await client.get(SESSIONS, headers=bearer(token))
        assert (await resp.json())["code"] == "TOKEN_EXPIRED"

    async def test_denials_are_logged_without_the_token(
            self, client: TestClient, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[type-arg]
        caplog.set_level(logging.INFO, logger="gatehouse.security")
        await denial(client, bearer("garbage-token-value"))
        denials = [r for r in caplog.records if r.getMessage() == "auth_denied"]
        assert len(denials) == 1
        assert denials[0].fields["status"] == 401  # type: ignore[attr-defined]
        assert "garbage-token-value" not in caplog.text


class TestRoles:
    @staticmethod
    async def admin_only(request: web.Request) -> web.Response:
        ctx = await require_user(request, roles=("admin", "moderator"))
        return web.json_response({"user": ctx.user.id, "logged": request[USER_ID]})

    async def start(self, aiohttp_client: Any, config: Config) -> TestClient:  # type: ignore[type-arg]
        app = build_app(config)
        app.router.add_get("/test/admin-only", self.admin_only)
        return await aiohttp_client(app)  # type: ignore[no-any-return]

    async def test_role_not_allowed_is_403(self, aiohttp_client: Any, config: Config) -> None:
        client = await self.start(aiohttp_client, config)
        token = (await register(client))["accessToken"]
        resp = await client.get("/test/admin-only", headers=bearer(token))
        assert resp.status == 403
        assert (await resp.json())["error"] == "Insufficient permissions"

    async def test_allowed_role_passes_and_names_the_user(self, aiohttp_client: Any,
                                                          config: Config) -> None:
        client = await self.start(aiohttp_client, config)
        data = await register(client)
        await db_of(client).users.update_one({}, {"$set": {"role": "moderator"}})
        resp = await client.get("/test/admin-only", headers=bearer(data["accessToken"]))
        assert resp.status == 200
        assert await resp.json() == {"user": data["user"]["id"], "logged": data["user"]["id"]}


class _Commands(monitoring.CommandListener):
    """Counts database commands on the auth collections while `recording` is on."""

    def __init__(self) -> None:
        self.recording = False
        self.seen: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        if self.recording and target in ("users", "sessions"):
            self.seen.append(f"{event.command_name} {target}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


COMMANDS = _Commands()
# Applies to clients created from now on, i.e. the app's client started by each test.
monitoring.register(COMMANDS)


class TestCost:
    async def test_authenticating_a_request_is_one_database_operation(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        token = (await register(client))["accessToken"]
        COMMANDS.seen.clear()
        COMMANDS.recording = True
        try:
            resp = await client.get(f"{AUTH}/sessions", headers=bearer(token))
        finally:
            COMMANDS.recording = False
        assert resp.status == 200
        # One find on users authenticates; the second is this route's own session listing.
        assert COMMANDS.seen == ["find users", "find sessions"]
