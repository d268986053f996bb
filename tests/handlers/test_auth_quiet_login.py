"""A login on a quiet account checks the password before taking an attempt slot (issue 14),
at real bcrypt cost: whatever reaches the account while that check runs must still win.

The attacks: lock the account while a right password is in bcrypt (the late login must not
slip past the lock); race a wrong guess against it (the login must take the slot path and
still succeed, leaving no slot held); and fire twenty wrong guesses with the right one among
them (no more wrong answers than the budget, a lock that holds).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import pytest
from bson import ObjectId

from models import users
from server.core.clock import utcnow
from server.core.config import Config
from tests.handlers._auth import AUTH, PASSWORD, db_of, register
from tests.handlers._races import ROUNDS, TRIALS, Client, login_during, login_seconds

WRONG = "Wr0ng!Passw0rd"


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config(security={"bcrypt_rounds": ROUNDS})


async def status_of(client: Client, email: str, password: str) -> int:
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    await resp.read()
    return resp.status


async def fresh_account(client: Client, n: int) -> tuple[str, dict[str, Any]]:
    email = f"quiet{n}@example.com"
    await register(client, email)
    doc = await db_of(client).users.find_one({"email": email})
    return email, doc


async def no_orphans(client: Client, user_id: ObjectId) -> None:
    db = db_of(client)
    user = await db.users.find_one({"_id": user_id})
    docs = {d["_id"] async for d in db.sessions.find({"user": user_id})}
    assert docs == set(user["activeSessions"]), "a session document outlived its session"


async def lock(client: Client, config: Config, email: str, user_id: str) -> None:
    """What five wrong guesses settled by other workers leave: a running lock."""
    rules = config.security
    for k in range(rules.max_login_attempts):
        await users.reserve_login_attempt(db_of(client), email, f"x{k}", utcnow(), rules)
        await users.fail_login_attempt(db_of(client), user_id, f"x{k}", utcnow(), rules)


class TestWhileThePasswordIsChecked:
    async def test_a_lock_set_meanwhile_wins(self, make_client: Any, config: Config) -> None:
        client = await make_client(config)
        for n in range(TRIALS):
            email, doc = await fresh_account(client, n)
            seconds = await login_seconds(client, email)

            raced, _ = await login_during(client, email, functools.partial(
                lock, client, config, email, str(doc["_id"])), event_bcrypts=0, seconds=seconds)
            assert raced.status == 423, raced.body
            assert raced.access is None
            assert raced.refresh is None
            after = await db_of(client).users.find_one({"_id": doc["_id"]})
            assert after["lockUntil"] is not None
            assert after["loginPending"] == []
            await no_orphans(client, doc["_id"])

    async def test_a_wrong_guess_meanwhile_sends_it_through_a_slot(
            self, make_client: Any, config: Config) -> None:
        client = await make_client(config)
        for n in range(TRIALS):
            email, doc = await fresh_account(client, n)
            seconds = await login_seconds(client, email)
            # The guess spends one bcrypt, then takes a slot and settles its failure: inside
            # the right login's own bcrypt, so that login finds the account changed.
            raced, guessed = await login_during(
                client, email, functools.partial(status_of, client, email, WRONG),
                event_bcrypts=1, seconds=seconds)
            assert raced.status == 200, raced.body
            assert guessed == 401
            after = await db_of(client).users.find_one({"_id": doc["_id"]})
            assert after["loginPending"] == [], "a slot is still held"
            assert after["lockUntil"] is None
            assert after["loginAttempts"] <= 1
            await no_orphans(client, doc["_id"])


class TestGuessesAroundTheRightPassword:
    async def test_twenty_wrong_and_one_right_at_once(self, make_client: Any,
                                                      config: Config) -> None:
        client = await make_client(config)
        email, doc = await fresh_account(client, 0)
        budget = config.security.max_login_attempts
        right, *wrong = await asyncio.gather(
            status_of(client, email, PASSWORD), *(status_of(client, email, WRONG)
                                                   for _ in range(20)))
        assert set(wrong) <= {401, 423}, wrong
        assert right in (200, 423), right
        if right == 423:  # the lock came first: exactly the budget was answered
            assert wrong.count(401) == budget, wrong
        else:  # a success restarts the count once: the budget before it and after it at most
            assert wrong.count(401) <= 2 * budget - 1, wrong
        after = await db_of(client).users.find_one({"_id": doc["_id"]})
        assert after["loginAttempts"] == budget
        assert after["lockUntil"] is not None
        assert after["loginPending"] == []
        assert await status_of(client, email, PASSWORD) == 423
        await no_orphans(client, doc["_id"])
