"""Security notices to the account's address (issue 13, item 5), none of which can act.

Before: nothing was mailed when the password was changed or reset, when an email change was
asked for, or when the account got locked, so an owner learnt of a takeover only by being
locked out. Each notice must carry neither a token nor a link: a notice is read on phones,
forwarded and archived, and must give whoever reads it nothing to use.
"""

from __future__ import annotations

from typing import Any

import pytest

from server.core.config import Config, SmtpConfig
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, NEW_PASSWORD, PASSWORD, mailed_tokens
from tests.handlers._mail import assert_no_token, mail_to, subjects
from tests.handlers._races import Client
from tests.handlers._users import call, person_of

ADA = "ada@example.com"
WRONG = "Wr0ng!Passw0rd"
LOCKED = "Your account was locked"


@pytest.fixture
def config(make_config: Any, smtp_config: SmtpConfig) -> Config:
    return make_config(mail={"backend": "smtp", "smtp": smtp_config})  # type: ignore[no-any-return]


class TestNotices:
    async def test_password_changed(self, client: Client, smtp_server: SmtpSink) -> None:
        me = await person_of(client, email=ADA)
        status, _ = await call(client, "POST", "/me/password", me, json={
            "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
        assert status == 200
        assert_no_token(await mail_to(smtp_server, ADA, "Your password was changed"))

    async def test_password_reset(self, client: Client, smtp_server: SmtpSink) -> None:
        await person_of(client, email=ADA)
        await client.post(f"{AUTH}/forgot-password", json={"email": ADA})
        [token] = await mailed_tokens(smtp_server, ADA, "reset-password")
        resp = await client.post(f"{AUTH}/reset-password/{token}",
                                 json={"password": NEW_PASSWORD})
        assert resp.status == 200
        notice = await mail_to(smtp_server, ADA, "Your password was reset")
        assert_no_token(notice)
        assert token not in str(notice)

    async def test_email_change_requested(self, client: Client,
                                          smtp_server: SmtpSink) -> None:
        me = await person_of(client, email=ADA)
        status, _ = await call(client, "PATCH", "/me", me, json={
            "email": "grace@example.com", "currentPassword": PASSWORD})
        assert status == 200
        [token] = await mailed_tokens(smtp_server, "grace@example.com", "verify-email")
        notice = await mail_to(smtp_server, ADA, "A change of your sign-in email was requested")
        assert_no_token(notice)
        assert token not in str(notice)

    async def test_account_locked_once_per_lock(self, client: Client,
                                                smtp_server: SmtpSink) -> None:
        await person_of(client, email=ADA)
        statuses = []
        for _ in range(7):
            resp = await client.post(f"{AUTH}/login", json={"email": ADA, "password": WRONG})
            statuses.append(resp.status)
        assert statuses[-1] == 423
        notice = await mail_to(smtp_server, ADA, LOCKED)
        assert_no_token(notice)
        assert "UTC" in SmtpSink.parts(notice)[0]  # until when
        assert subjects(smtp_server, ADA).count(LOCKED) == 1

    async def test_a_notice_never_names_a_live_link(self, client: Client,
                                                    smtp_server: SmtpSink) -> None:
        """Every notice of one busy account, checked against every token it was mailed."""
        me = await person_of(client, email=ADA)
        await client.post(f"{AUTH}/forgot-password", json={"email": ADA})
        await call(client, "PATCH", "/me", me, json={
            "email": "grace@example.com", "currentPassword": PASSWORD})
        await call(client, "POST", "/me/password", me, json={
            "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
        await mail_to(smtp_server, ADA, "Your password was changed")
        tokens = [*await mailed_tokens(smtp_server, ADA, "verify-email"),
                  *await mailed_tokens(smtp_server, ADA, "reset-password"),
                  *await mailed_tokens(smtp_server, "grace@example.com", "verify-email")]
        assert len(tokens) == 3
        notices = [m for m in smtp_server.received_by(ADA)
                   if "token=" not in SmtpSink.parts(m)[0]]
        assert len(notices) == 2
        for notice in notices:
            assert_no_token(notice)
            assert not any(token in str(notice) for token in tokens)
