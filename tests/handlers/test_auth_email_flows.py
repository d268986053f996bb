"""Mailed-link flows over HTTP: email verification, resend, forgot and reset password.

Mail goes through the real outbox and SMTP delivery to the `smtp_server` sink (conftest),
where the tests read the links, exactly as a user would.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.core.config import Config, SmtpConfig
from server.services.auth import FORGOT_MIN_SECONDS
from tests._app import bearer
from tests.conftest import SmtpSink
from tests.handlers._auth import (
    AUTH,
    NEW_PASSWORD,
    PASSWORD,
    clocked_client,
    db_of,
    login,
    mailed_tokens,
    refresh,
    register,
)

FORGOT_MESSAGE = "If the email exists in our system, a password reset link has been sent."
WRONG = "Wr0ng!Passw0rd"
ADA = "ada@example.com"
Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
def config(make_config: Any, smtp_config: SmtpConfig) -> Config:
    return make_config(mail={"backend": "smtp", "smtp": smtp_config})  # type: ignore[no-any-return]


async def verify(client: Client, token: str) -> tuple[int, dict[str, Any]]:
    resp = await client.get(f"{AUTH}/verify-email/{token}")
    return resp.status, await resp.json()


async def forgot(client: Client, email: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post(f"{AUTH}/forgot-password", json={"email": email})
    return resp.status, await resp.json()


async def reset(client: Client, token: str,
                password: str = NEW_PASSWORD) -> tuple[int, dict[str, Any]]:
    resp = await client.post(f"{AUTH}/reset-password/{token}", json={"password": password})
    return resp.status, await resp.json()


async def verification_token(sink: SmtpSink, count: int = 1) -> str:
    tokens = await mailed_tokens(sink, ADA, "verify-email", count)
    assert len(tokens) == count
    return tokens[-1]


async def reset_token(client: Client, sink: SmtpSink, count: int = 1) -> str:
    await forgot(client, ADA)
    tokens = await mailed_tokens(sink, ADA, "reset-password", count)
    assert len(tokens) == count
    return tokens[-1]


class TestVerifyEmail:
    async def test_the_mailed_link_verifies_once(self, client: Client, config: Config,
                                                 smtp_server: SmtpSink) -> None:
        await register(client)
        message = await smtp_server.wait_for(ADA)
        link = SmtpSink.link(message, f"{config.frontend_url}/verify-email?token=")
        assert link in SmtpSink.parts(message)[1]
        token = link.split("token=")[1]
        status, body = await verify(client, token)
        assert (status, body["message"]) == (200, "Email verified successfully")
        assert (await db_of(client).users.find_one({}))["isEmailVerified"] is True
        status, body = await verify(client, token)
        assert (status, body["error"]) == (400, "Invalid or expired verification token")

    async def test_unknown_token_is_400(self, client: Client) -> None:
        status, body = await verify(client, "no-such-token")
        assert (status, body["error"]) == (400, "Invalid or expired verification token")

    @pytest.mark.parametrize(("age", "status"), [(timedelta(hours=23, minutes=59), 200),
                                                 (timedelta(hours=24, seconds=1), 400)])
    async def test_links_live_24_hours(self, aiohttp_client: Any, config: Config,
                                       smtp_server: SmtpSink, age: timedelta,
                                       status: int) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        await register(client)
        token = await verification_token(smtp_server)
        clock.advance(age)
        assert (await verify(client, token))[0] == status


class TestResendVerification:
    async def test_sends_a_new_link_and_the_old_one_stops_working(
            self, client: Client, smtp_server: SmtpSink) -> None:
        data = await register(client)
        resp = await client.post(f"{AUTH}/resend-verification",
                                 headers=bearer(data["accessToken"]))
        assert resp.status == 200
        old, new = await mailed_tokens(smtp_server, ADA, "verify-email", 2)
        assert (await verify(client, old))[0] == 400
        assert (await verify(client, new))[0] == 200

    async def test_already_verified_is_400(self, client: Client,
                                           smtp_server: SmtpSink) -> None:
        data = await register(client)
        await verify(client, await verification_token(smtp_server))
        resp = await client.post(f"{AUTH}/resend-verification",
                                 headers=bearer(data["accessToken"]))
        assert resp.status == 400
        assert "already verified" in (await resp.json())["error"]

    async def test_requires_a_bearer_token(self, client: Client) -> None:
        assert (await client.post(f"{AUTH}/resend-verification")).status == 401


class TestForgotPassword:
    async def test_known_and_unknown_emails_get_the_same_answer(
            self, client: Client, smtp_server: SmtpSink) -> None:
        await register(client)
        known = await forgot(client, ADA)
        unknown = await forgot(client, "nobody@example.com")
        assert known == unknown == (200, {"success": True, "message": FORGOT_MESSAGE})
        assert len(await mailed_tokens(smtp_server, ADA, "reset-password")) == 1
        assert await db_of(client).outbox.count_documents({"to": "nobody@example.com"}) == 0

    async def test_known_and_unknown_emails_take_the_same_time_floor(
            self, client: Client) -> None:
        await register(client)
        for email in (ADA, "nobody@example.com"):
            started = time.perf_counter()
            assert (await forgot(client, email))[0] == 200
            assert time.perf_counter() - started >= FORGOT_MIN_SECONDS

    async def test_email_is_required(self, client: Client) -> None:
        resp = await client.post(f"{AUTH}/forgot-password", json={})
        assert resp.status == 400
        assert (await resp.json())["error"] == "Email is required"

    async def test_the_link_is_in_both_parts_of_the_mail(self, client: Client, config: Config,
                                                         smtp_server: SmtpSink) -> None:
        await register(client)
        token = await reset_token(client, smtp_server)
        mail = next(m for m in smtp_server.received_by(ADA) if token in SmtpSink.parts(m)[0])
        assert f"{config.frontend_url}/reset-password?token={token}" in SmtpSink.parts(mail)[1]


class TestResetPassword:
    async def test_sets_the_password_and_is_single_use(
            self, client: Client, smtp_server: SmtpSink,
            caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger="gatehouse.security")
        await register(client)
        token = await reset_token(client, smtp_server)
        status, body = await reset(client, token)
        assert (status, body["message"]) == (200, "Password reset successfully")
        assert (await login(client, password=NEW_PASSWORD))["accessToken"]
        old = await client.post(f"{AUTH}/login", json={"email": ADA, "password": PASSWORD})
        assert old.status == 401
        status, body = await reset(client, token, "An0ther!Passw0rd")
        assert (status, body["error"]) == (400, "Invalid or expired reset token")
        assert "password_reset" in [r.getMessage() for r in caplog.records]
        assert NEW_PASSWORD not in caplog.text
        assert token not in caplog.text

    async def test_simultaneous_uses_of_one_link_succeed_once(
            self, client: Client, smtp_server: SmtpSink) -> None:
        await register(client)
        token = await reset_token(client, smtp_server)
        results = await asyncio.gather(*(reset(client, token) for _ in range(5)))
        assert sorted(status for status, _ in results) == [200] + [400] * 4

    async def test_ends_every_session(self, client: Client, smtp_server: SmtpSink) -> None:
        data = await register(client)
        other = await login(client)
        await reset(client, await reset_token(client, smtp_server))
        for signed_in in (data, other):
            sessions = await client.get(f"{AUTH}/sessions",
                                        headers=bearer(signed_in["accessToken"]))
            assert sessions.status == 401
            assert (await refresh(client, signed_in["refreshToken"])).status == 401
        assert await db_of(client).sessions.count_documents({}) == 0

    async def test_clears_the_lock(self, client: Client, smtp_server: SmtpSink) -> None:
        await register(client)
        for _ in range(5):
            await client.post(f"{AUTH}/login", json={"email": ADA, "password": WRONG})
        await reset(client, await reset_token(client, smtp_server))
        assert (await login(client, password=NEW_PASSWORD))["accessToken"]

    async def test_weak_password_is_400_and_keeps_the_token(
            self, client: Client, smtp_server: SmtpSink) -> None:
        await register(client)
        token = await reset_token(client, smtp_server)
        status, body = await reset(client, token, "weak")
        assert status == 400
        assert body["error"].startswith("Password must contain at least one uppercase")
        assert (await reset(client, token))[0] == 200

    async def test_a_newer_link_replaces_the_older(self, client: Client,
                                                   smtp_server: SmtpSink) -> None:
        await register(client)
        first = await reset_token(client, smtp_server)
        second = await reset_token(client, smtp_server, count=2)
        assert (await reset(client, first))[0] == 400
        assert (await reset(client, second))[0] == 200

    @pytest.mark.parametrize(("age", "status"), [(timedelta(minutes=9, seconds=50), 200),
                                                 (timedelta(minutes=10, seconds=1), 400)])
    async def test_links_live_10_minutes(self, aiohttp_client: Any, config: Config,
                                         smtp_server: SmtpSink, age: timedelta,
                                         status: int) -> None:
        client, clock = await clocked_client(aiohttp_client, config)
        await register(client)
        token = await reset_token(client, smtp_server)
        clock.advance(age)
        assert (await reset(client, token))[0] == status

    async def test_unknown_token_is_400(self, client: Client) -> None:
        status, body = await reset(client, "no-such-token")
        assert (status, body["error"]) == (400, "Invalid or expired reset token")
