"""Outstanding mailed links die with the credentials they were sent for (issue 13, item 4).

Before: a reset link and a verification link mailed before a password change or an email
change kept working afterwards, so whoever could read the old mailbox (or the old address
itself, after the change) could still use them. Each test collects live links, makes the
change over HTTP, and follows them.
"""

from __future__ import annotations

from typing import Any

import pytest

from server.core.config import Config, SmtpConfig
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, NEW_PASSWORD, PASSWORD, mailed_tokens
from tests.handlers._races import Client
from tests.handlers._users import Person, call, person_of

ADA = "ada@example.com"


@pytest.fixture
def config(make_config: Any, smtp_config: SmtpConfig) -> Config:
    return make_config(mail={"backend": "smtp", "smtp": smtp_config})  # type: ignore[no-any-return]


async def live_links(client: Client, sink: SmtpSink, me: Person) -> tuple[str, str]:
    """(verification token mailed at sign-up, reset token asked for now) of `me`."""
    [verification] = await mailed_tokens(sink, me.email, "verify-email")
    await client.post(f"{AUTH}/forgot-password", json={"email": me.email})
    [reset] = await mailed_tokens(sink, me.email, "reset-password")
    return verification, reset


async def follow(client: Client, verification: str, reset: str) -> tuple[int, int]:
    """Statuses of following both links (the reset one with a fresh password)."""
    verified = await client.get(f"{AUTH}/verify-email/{verification}")
    reset_resp = await client.post(f"{AUTH}/reset-password/{reset}",
                                   json={"password": "An0ther!Passw0rd"})
    return verified.status, reset_resp.status


class TestLinksDie:
    async def test_with_a_password_change(self, client: Client,
                                          smtp_server: SmtpSink) -> None:
        me = await person_of(client, email=ADA)
        verification, reset = await live_links(client, smtp_server, me)
        status, body = await call(client, "POST", "/me/password", me, json={
            "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
        assert status == 200, body
        assert await follow(client, verification, reset) == (400, 400)
        # The new password is the one that signs in: the reset link changed nothing.
        resp = await client.post(f"{AUTH}/login",
                                 json={"email": ADA, "password": NEW_PASSWORD})
        assert resp.status == 200

    async def test_with_an_email_change(self, client: Client,
                                        smtp_server: SmtpSink) -> None:
        me = await person_of(client, email=ADA)
        verification, reset = await live_links(client, smtp_server, me)
        status, body = await call(client, "PATCH", "/me", me, json={
            "email": "grace@example.com", "currentPassword": PASSWORD})
        assert status == 200, body
        assert await follow(client, verification, reset) == (400, 400)
        resp = await client.post(f"{AUTH}/login", json={"email": ADA, "password": PASSWORD})
        assert resp.status == 200

    async def test_a_pending_email_change_dies_with_a_reset(
            self, client: Client, smtp_server: SmtpSink) -> None:
        # Whoever asked for the change may be the reason for the reset.
        me = await person_of(client, email=ADA)
        status, _ = await call(client, "PATCH", "/me", me, json={
            "email": "thief@evil.example", "currentPassword": PASSWORD})
        assert status == 200
        [change] = await mailed_tokens(smtp_server, "thief@evil.example", "verify-email")
        await client.post(f"{AUTH}/forgot-password", json={"email": ADA})
        [reset] = await mailed_tokens(smtp_server, ADA, "reset-password")
        resp = await client.post(f"{AUTH}/reset-password/{reset}",
                                 json={"password": NEW_PASSWORD})
        assert resp.status == 200
        assert (await client.get(f"{AUTH}/verify-email/{change}")).status == 400
        resp = await client.post(f"{AUTH}/login",
                                 json={"email": ADA, "password": NEW_PASSWORD})
        assert resp.status == 200
