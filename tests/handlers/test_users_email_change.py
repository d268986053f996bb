"""A stolen access token must not be enough to take the account (issue 13, item 3).

Before: `PATCH /users/me {"email": ...}` needed no password and switched the sign-in email at
once, the old address was never told, a taken address answered 409 (so the route told who is
registered) and `DELETE /users/me` needed only the token. Here the attacker holds the token
and tries each of those; the owner's mailbox is the `smtp_server` sink.
"""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId

from server.core.config import Config, SmtpConfig
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, PASSWORD, db_of, mailed_tokens, register
from tests.handlers._mail import assert_no_token, mail_to, subjects
from tests.handlers._races import Client
from tests.handlers._users import Person, call, person_of

THIEF = "thief@evil.example"
REQUESTED = "A change of your sign-in email was requested"
IN_USE = "Someone tried to use your email address"
CONFIRM = "Confirm your new email address"
WRONG = "Wr0ng!Passw0rd"


@pytest.fixture
def config(make_config: Any, smtp_config: SmtpConfig) -> Config:
    return make_config(mail={"backend": "smtp", "smtp": smtp_config})  # type: ignore[no-any-return]


async def change_email(client: Client, me: Person, email: str,
                       password: str | None = PASSWORD) -> tuple[int, dict[str, Any]]:
    body = {"email": email} if password is None else {"email": email, "currentPassword": password}
    return await call(client, "PATCH", "/me", me, json=body)


async def login_status(client: Client, email: str, password: str = PASSWORD) -> int:
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    return resp.status


async def me_now(client: Client, me: Person) -> dict[str, Any]:
    status, body = await call(client, "GET", "/me", me)
    assert status == 200, body
    return body["data"]["user"]  # type: ignore[no-any-return]


async def outbox_count(client: Client) -> int:
    return int(await db_of(client).outbox.count_documents({}))


async def confirm(client: Client, sink: SmtpSink, to: str) -> tuple[int, dict[str, Any]]:
    [token] = await mailed_tokens(sink, to, "verify-email")
    resp = await client.get(f"{AUTH}/verify-email/{token}")
    return resp.status, await resp.json()


class TestStolenToken:
    async def test_without_the_password_nothing_changes(
            self, client: Client, smtp_server: SmtpSink) -> None:
        me = await person_of(client)
        status, body = await change_email(client, me, THIEF, password=None)
        assert (status, body["code"]) == (400, "VALIDATION_ERROR")
        assert body["errors"][0]["field"] == "currentPassword"
        user = await me_now(client, me)
        assert (user["email"], user["pendingEmail"]) == (me.email, None)
        assert await login_status(client, me.email) == 200
        assert await mailed_tokens(smtp_server, THIEF, "verify-email", within=0.3) == []

    async def test_a_wrong_password_changes_nothing(self, client: Client) -> None:
        me = await person_of(client)
        mails = await outbox_count(client)
        status, body = await change_email(client, me, THIEF, password=WRONG)
        assert (status, body["code"]) == (400, "CURRENT_PASSWORD_INCORRECT")
        assert (await me_now(client, me))["pendingEmail"] is None
        assert await outbox_count(client) == mails

    async def test_deactivation_needs_the_password(self, client: Client) -> None:
        me = await person_of(client)
        status, body = await call(client, "DELETE", "/me", me)
        assert (status, body["errors"][0]["field"]) == (400, "currentPassword")
        status, body = await call(client, "DELETE", "/me", me,
                                  json={"currentPassword": WRONG})
        assert (status, body["code"]) == (400, "CURRENT_PASSWORD_INCORRECT")
        assert (await me_now(client, me))["isActive"] is True
        assert await login_status(client, me.email) == 200
        status, _ = await call(client, "DELETE", "/me", me, json={"currentPassword": PASSWORD})
        assert status == 200


class TestPendingUntilConfirmed:
    async def test_the_old_address_signs_in_until_the_link_is_followed(
            self, client: Client, smtp_server: SmtpSink) -> None:
        me = await person_of(client)
        status, body = await change_email(client, me, "new@example.com")
        assert status == 200, body
        user = body["data"]["user"]
        assert (user["email"], user["pendingEmail"]) == (me.email, "new@example.com")
        assert await login_status(client, "new@example.com") == 401
        assert await login_status(client, me.email) == 200
        status, body = await confirm(client, smtp_server, "new@example.com")
        assert status == 200, body
        assert await login_status(client, "new@example.com") == 200
        assert await login_status(client, me.email) == 401
        user = await me_now(client, me)
        assert (user["email"], user["pendingEmail"], user["isEmailVerified"]) == \
            ("new@example.com", None, True)

    async def test_the_old_address_is_told_at_once(self, client: Client,
                                                   smtp_server: SmtpSink) -> None:
        me = await person_of(client, email="ada@example.com")
        assert (await change_email(client, me, THIEF))[0] == 200
        notice = await mail_to(smtp_server, me.email, REQUESTED)
        assert THIEF in SmtpSink.parts(notice)[0]
        assert_no_token(notice)

    async def test_a_taken_address_gets_the_same_answer_as_a_free_one(
            self, client: Client, smtp_server: SmtpSink) -> None:
        owner = await person_of(client)
        asker, control = await person_of(client), await person_of(client)
        answers = []
        for who, email in ((control, "free@example.com"), (asker, owner.email)):
            mails = await outbox_count(client)
            status, body = await change_email(client, who, email)
            answers.append((status, body["message"], sorted(body["data"]["user"]),
                            body["data"]["user"]["pendingEmail"] == email,
                            await outbox_count(client) - mails))
        assert answers[0] == answers[1]
        assert answers[0][0] == 200
        # The owner of the taken address is told, with nothing to click; the free one got
        # the link. Both askers' current addresses got the same notice.
        assert_no_token(await mail_to(smtp_server, owner.email, IN_USE))
        await mail_to(smtp_server, "free@example.com", CONFIRM)
        for who in (asker, control):
            await mail_to(smtp_server, who.email, REQUESTED)
        assert CONFIRM not in subjects(smtp_server, owner.email)
        assert (await me_now(client, owner))["email"] == owner.email
        assert await login_status(client, owner.email) == 200
        assert (await me_now(client, asker))["email"] == asker.email

    async def test_an_address_taken_meanwhile_fails_the_confirmation_cleanly(
            self, client: Client, smtp_server: SmtpSink) -> None:
        me = await person_of(client)
        assert (await change_email(client, me, "contested@example.com"))[0] == 200
        [token] = await mailed_tokens(smtp_server, "contested@example.com", "verify-email")
        await register(client, "contested@example.com")
        resp = await client.get(f"{AUTH}/verify-email/{token}")
        assert (resp.status, (await resp.json())["code"]) == (409, "EMAIL_TAKEN")
        user = await me_now(client, me)
        assert (user["email"], user["pendingEmail"]) == (me.email, None)
        assert await login_status(client, me.email) == 200
        # The link is spent: following it again is just an invalid link.
        assert (await client.get(f"{AUTH}/verify-email/{token}")).status == 400

    async def test_the_same_email_needs_no_password(self, client: Client) -> None:
        me = await person_of(client)
        status, body = await change_email(client, me, me.email.upper(), password=None)
        assert status == 200, body
        assert body["data"]["user"]["pendingEmail"] is None

    async def test_an_admin_change_applies_at_once_and_tells_the_old_address(
            self, client: Client, smtp_server: SmtpSink) -> None:
        admin, target = await person_of(client, "admin"), await person_of(client)
        status, body = await call(client, "PATCH", f"/{target.id}", admin,
                                  json={"email": "moved@example.com"})
        assert status == 200, body
        assert body["data"]["user"]["email"] == "moved@example.com"
        notice = await mail_to(smtp_server, target.email, "Your sign-in email was changed")
        assert "moved@example.com" in SmtpSink.parts(notice)[0]
        assert_no_token(notice)
        assert await login_status(client, "moved@example.com") == 200
        doc = await db_of(client).users.find_one({"_id": ObjectId(target.id)})
        assert doc["isEmailVerified"] is False


class TestCredentialBudget:
    async def test_email_changes_spend_the_credential_budget(
            self, make_client: Any, make_config: Any) -> None:
        client = await make_client(make_config(rate_limit={
            "enabled": True, "store": "memory", "auth_max": 3}))
        me = await person_of(client)  # register spends one
        statuses = [(await change_email(client, me, f"n{n}@example.com", WRONG))[0]
                    for n in range(3)]
        assert statuses == [400, 400, 429]
        # Reading the profile is not a credential route.
        assert (await call(client, "GET", "/me", me))[0] == 200
