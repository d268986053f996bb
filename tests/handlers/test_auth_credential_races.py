"""A login in bcrypt while the credentials change (issue 13, item 2), at real cost 12.

The attack: start a login with the password you know, and while it spends its ~200 ms in
bcrypt the owner resets or changes the password, signs out everywhere, or an admin
deactivates the account. The late login must not come back with a live session: it answers
401 and leaves no session document behind. Every trial also checks that no session the user
does not list is left in the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from bson import ObjectId

from server.core.config import Config, SmtpConfig
from tests._app import bearer
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, NEW_PASSWORD, PASSWORD, db_of, mailed_tokens
from tests.handlers._races import (
    ROUNDS,
    TRIALS,
    Client,
    Raced,
    assert_dead,
    guarded,
    login_during,
    login_seconds,
    watch,
)
from tests.handlers._users import USERS, Person, call, person_of

Event = Callable[[], Awaitable[int]]


@pytest.fixture
def config(make_config: Any, smtp_config: SmtpConfig) -> Config:
    return make_config(security={"bcrypt_rounds": ROUNDS},  # type: ignore[no-any-return]
                       mail={"backend": "smtp", "smtp": smtp_config})


async def status_of(request: Awaitable[Any]) -> int:
    resp = await request
    await resp.read()
    return int(resp.status)


async def no_orphans(client: Client, user_id: str) -> None:
    """Every session document of the user is one the user lists (and the other way round)."""
    db = db_of(client)
    user = await db.users.find_one({"_id": ObjectId(user_id)})
    docs = {d["_id"] async for d in db.sessions.find({"user": ObjectId(user_id)})}
    assert docs == set(user["activeSessions"]), "a session document outlived its session"


async def run_trials(client: Client, caplog: pytest.LogCaptureFixture,
                     prepare: Callable[[Person], Awaitable[Event]], *, event_bcrypts: int,
                     after: Callable[[Person], Awaitable[None]] | None = None) -> None:
    """Race a login against the event `prepare` builds for a fresh user, until the event
    lands inside the login's bcrypt (at most TRIALS times); every trial must leave the late
    login without a live token and without a stray session document."""
    watch(caplog)
    for _ in range(TRIALS):
        me = await person_of(client)
        event = await prepare(me)
        seconds = await login_seconds(client, me.email)
        before = guarded(caplog)
        raced, event_status = await login_during(client, me.email, event,
                                                 event_bcrypts=event_bcrypts, seconds=seconds)
        assert event_status == 200
        if after is not None:
            await after(me)
        await assert_dead(client, raced)
        await no_orphans(client, me.id)
        if guarded(caplog) > before:
            assert_refused(raced)
            return
    pytest.fail(f"the event never committed inside the login's bcrypt in {TRIALS} trials")


def assert_refused(raced: Raced) -> None:
    assert (raced.status, raced.body["code"]) == (401, "INVALID_CREDENTIALS")
    assert raced.access is None
    assert raced.refresh is None


class TestLoginInFlight:
    async def test_a_password_reset_is_not_undone(
            self, client: Client, smtp_server: SmtpSink,
            caplog: pytest.LogCaptureFixture) -> None:
        async def prepare(me: Person) -> Event:
            await client.post(f"{AUTH}/forgot-password", json={"email": me.email})
            [token] = await mailed_tokens(smtp_server, me.email, "reset-password")
            return lambda: status_of(client.post(f"{AUTH}/reset-password/{token}",
                                                 json={"password": NEW_PASSWORD}))

        # The reset spends one bcrypt (hashing the new password) before it commits.
        await run_trials(client, caplog, prepare, event_bcrypts=1)

    async def test_a_password_change_is_not_undone(
            self, client: Client, caplog: pytest.LogCaptureFixture) -> None:
        async def prepare(me: Person) -> Event:
            return lambda: status_of(client.post(
                f"{USERS}/me/password", headers=me.auth,
                json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}))

        # Checking the current password and hashing the new one: two bcrypts.
        await run_trials(client, caplog, prepare, event_bcrypts=2)

    async def test_logout_all_is_not_undone(
            self, client: Client, caplog: pytest.LogCaptureFixture) -> None:
        async def prepare(me: Person) -> Event:
            return lambda: status_of(client.post(f"{AUTH}/logout-all", headers=me.auth))

        await run_trials(client, caplog, prepare, event_bcrypts=0)

    async def test_an_admin_deactivation_is_not_undone_by_reactivation(
            self, client: Client, caplog: pytest.LogCaptureFixture) -> None:
        # Before the fix the late session was listed on the deactivated user: refused only
        # while the account stayed deactivated, alive again once an admin reactivated it.
        admin = await person_of(client, "admin")

        async def prepare(me: Person) -> Event:
            return lambda: status_of(client.patch(f"{USERS}/{me.id}", headers=admin.auth,
                                                  json={"isActive": False}))

        async def reactivate(me: Person) -> None:
            status, _ = await call(client, "PATCH", f"/{me.id}", admin,
                                   json={"isActive": True})
            assert status == 200

        await run_trials(client, caplog, prepare, event_bcrypts=0, after=reactivate)

    async def test_a_self_deactivation_is_not_undone_by_reactivation(
            self, client: Client, caplog: pytest.LogCaptureFixture) -> None:
        admin = await person_of(client, "admin")

        async def prepare(me: Person) -> Event:
            return lambda: status_of(client.delete(f"{USERS}/me", headers=me.auth,
                                                   json={"currentPassword": PASSWORD}))

        async def reactivate(me: Person) -> None:
            assert (await call(client, "PATCH", f"/{me.id}", admin,
                               json={"isActive": True}))[0] == 200

        # DELETE /me checks the current password first: one bcrypt.
        await run_trials(client, caplog, prepare, event_bcrypts=1, after=reactivate)


class TestRefreshInFlight:
    async def test_a_refresh_racing_logout_all_leaves_no_live_token(
            self, client: Client) -> None:
        """A rotation never writes the user document, whose session list (cleared in the same
        update that bumps the credential version) decides; whatever order the two take, the
        refreshed pair is dead once logout-all answered. A guard against reordering the
        rotation, not a reproduction: this one held before the fix too."""
        for _ in range(TRIALS):
            me = await person_of(client)
            client.session.cookie_jar.clear()
            rotated, ended = await asyncio.gather(
                client.post(f"{AUTH}/refresh-token", json={"refreshToken": me.refresh_token}),
                client.post(f"{AUTH}/logout-all", headers=me.auth))
            assert ended.status == 200
            if rotated.status == 200:
                data = (await rotated.json())["data"]
                await assert_dead(client, Raced(200, {}, data["accessToken"],
                                                data["refreshToken"]))
            else:
                assert rotated.status == 401
            await assert_dead(client, Raced(200, {}, me.token, me.refresh_token))
            await no_orphans(client, me.id)
            resp = await client.get(f"{AUTH}/sessions", headers=bearer(me.token))
            assert resp.status == 401
