"""Issue 16 item 6: an admin resets another user's second factors (DELETE /users/{id}/mfa):
every factor goes (whatever the `mfa` subdocument holds), every session of the user ends,
the user is mailed, the change is audited; nobody else may; two admins at once behave."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from bson import ObjectId

from server.core.clock import utcnow
from server.core.config import Config, SmtpConfig
from tests._app import Clock, bearer
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, PASSWORD, clocked_client, db_of
from tests.handlers._mail import assert_no_token, mail_to, subjects
from tests.handlers._mfa import Client, enrol, start_login
from tests.handlers._users import USERS, Person, person_of

NOTICE = "Your second factors were reset by an administrator"
TRIALS = 3


@pytest.fixture
def config(make_config: Any, smtp_config: SmtpConfig) -> Config:
    return make_config(mail={"backend": "smtp", "smtp": smtp_config})  # type: ignore[no-any-return]


@pytest.fixture
async def scene(aiohttp_client: Any, config: Config) -> tuple[Client, Clock, Person, Person]:
    """(client, clock, an admin signed in just now, a user with TOTP and a passkey-like
    entry another module may keep under `mfa`)."""
    client, clock = await clocked_client(aiohttp_client, config)
    admin = await person_of(client, "admin")
    target = await with_factors(client, clock)
    return client, clock, admin, target


async def with_factors(client: Client, clock: Clock) -> Person:
    target = await person_of(client)
    await enrol(client, target.token, clock)
    # enrol moved the app clock on; a password sign-in is dated by the wall clock (its
    # session id), so bring the clock back for the admins' sign-ins to stay recent.
    clock.now = utcnow()
    await db_of(client).users.update_one(  # what the passkeys work stores there, say
        {"_id": ObjectId(target.id)}, {"$set": {"mfa.passkeys": [{"id": "cred-1"}]}})
    return target


async def reset(client: Client, who: Person | None, target: Person) -> tuple[int, str]:
    resp = await client.delete(f"{USERS}/{target.id}/mfa", json={},
                               headers=who.auth if who else {})
    body = await resp.json()
    return resp.status, body.get("code", "") if resp.status != 200 else ""



class TestReset:
    async def test_every_factor_goes_and_every_session_ends(
            self, scene: tuple[Client, Clock, Person, Person]) -> None:
        client, _, admin, target = scene
        assert await reset(client, admin, target) == (200, "")
        doc = await db_of(client).users.find_one({"_id": ObjectId(target.id)})
        assert "mfa" not in doc
        assert doc["activeSessions"] == []
        me = await client.get(f"{USERS}/me", headers=target.auth)
        assert me.status == 401  # the sessions that signed in with the factor are over
        status, body, _ = await start_login(client, target.email)
        assert status == 200
        assert "mfaRequired" not in body["data"]  # the password alone signs in again
        me = await client.get(f"{USERS}/me", headers=bearer(body["data"]["accessToken"]))
        assert (await me.json())["data"]["user"]["mfa"] == {"totp": False,
                                                            "recoveryCodesLeft": 0,
                                                            "passkeys": 0}

    async def test_the_user_is_mailed_and_the_reset_audited(
            self, scene: tuple[Client, Clock, Person, Person], smtp_server: SmtpSink,
            service_log: io.StringIO) -> None:
        client, _, admin, target = scene
        assert await reset(client, admin, target) == (200, "")
        assert_no_token(await mail_to(smtp_server, target.email, NOTICE))
        events = [event for event in map(json.loads, service_log.getvalue().splitlines())
                  if event.get("event") == "mfa_reset"]
        assert len(events) == 1
        assert (events[0]["userId"], events[0]["by"]) == (target.id, admin.id)

    @pytest.mark.parametrize("role", ["user", "moderator"])
    async def test_nobody_but_an_admin(
            self, scene: tuple[Client, Clock, Person, Person], role: str) -> None:
        client, _, _, target = scene
        other = await person_of(client, role)
        assert await reset(client, other, target) == (403, "FORBIDDEN")
        assert await reset(client, target, target) == (403, "FORBIDDEN")
        assert (await reset(client, None, target))[0] == 401
        status, body, _ = await start_login(client, target.email)
        assert (status, body["data"]["mfaRequired"]) == (200, True)

    async def test_unknown_and_malformed_ids(
            self, scene: tuple[Client, Clock, Person, Person]) -> None:
        client, _, admin, _ = scene
        resp = await client.delete(f"{USERS}/{ObjectId()}/mfa", headers=admin.auth, json={})
        assert (resp.status, (await resp.json())["code"]) == (404, "USER_NOT_FOUND")
        resp = await client.delete(f"{USERS}/123/mfa", headers=admin.auth, json={})
        assert (resp.status, (await resp.json())["code"]) == (400, "INVALID_ID")


class TestTwoAdminsAtOnce:
    async def test_two_resets_remove_once_and_mail_once(
            self, scene: tuple[Client, Clock, Person, Person], smtp_server: SmtpSink) -> None:
        client, clock, first, _ = scene
        second = await person_of(client, "admin")
        for _ in range(TRIALS):
            target = await with_factors(client, clock)
            answers = await asyncio.gather(reset(client, first, target),
                                           reset(client, second, target))
            assert answers == [(200, "")] * 2
            await mail_to(smtp_server, target.email, NOTICE)
            await asyncio.sleep(0.3)  # a second notice would have been queued by now
            assert subjects(smtp_server, target.email).count(NOTICE) == 1

    async def test_a_reset_racing_a_deletion(
            self, scene: tuple[Client, Clock, Person, Person], smtp_server: SmtpSink) -> None:
        client, clock, first, _ = scene
        second = await person_of(client, "admin")
        for _ in range(TRIALS):
            target = await with_factors(client, clock)
            resp_reset, resp_delete = await asyncio.gather(
                reset(client, first, target),
                client.delete(f"{USERS}/{target.id}", headers=second.auth, json={}))
            assert resp_delete.status == 200
            assert resp_reset in ((200, ""), (404, "USER_NOT_FOUND"))
            assert await db_of(client).users.find_one({"_id": ObjectId(target.id)}) is None
            status, _, _ = await start_login(client, target.email)
            assert status == 401

    async def test_two_deletions(self, scene: tuple[Client, Clock, Person, Person]) -> None:
        client, _, first, target = scene
        second = await person_of(client, "admin")
        answers = await asyncio.gather(*(
            client.delete(f"{USERS}/{target.id}", headers=who.auth, json={})
            for who in (first, second)))
        assert sorted(r.status for r in answers) == [200, 404]


class TestReauthStillNeedsTheCode:
    async def test_a_reset_user_signs_in_and_reauths_with_the_password_alone(
            self, scene: tuple[Client, Clock, Person, Person]) -> None:
        client, _, admin, target = scene
        assert await reset(client, admin, target) == (200, "")
        status, body, _ = await start_login(client, target.email)
        assert status == 200
        resp = await client.post(f"{AUTH}/reauth", json={"password": PASSWORD},
                                 headers=bearer(body["data"]["accessToken"]))
        assert resp.status == 200
