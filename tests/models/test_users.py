"""models/users.py against the real database: indexes, lockout counters, sessions, tokens."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from models import user_credentials, user_sessions, users
from models.attempts import Attempts
from server.core.clock import utcnow
from server.core.config import SecurityConfig
from server.core.errors import EmailTaken

NOW = utcnow().replace(microsecond=0)  # whole seconds: the database keeps milliseconds



async def new_user(db: Any, email: str = "ada@example.com", **extra: Any) -> users.User:
    doc = users.new_user_doc(first_name="Ada", last_name="Lovelace", email=email,
                             password_hash="$2b$04$" + "x" * 53, now=NOW, **extra)
    return await users.insert_user(db, doc)


class TestDocument:
    async def test_new_user_has_every_template_field(self, db: Any) -> None:
        user = await new_user(db, " Ada@Example.COM ")
        doc = await db.users.find_one({})
        for name in ("firstName", "lastName", "email", "password", "role", "isActive",
                     "isEmailVerified", "profilePicture", "phoneNumber", "dateOfBirth",
                     "lastLogin", "loginAttempts", "lockUntil", "emailVerificationToken",
                     "emailVerificationExpires", "passwordResetToken", "passwordResetExpires",
                     "preferences", "createdAt", "updatedAt"):
            assert name in doc
        assert user.email == "ada@example.com"
        assert doc["role"] == "user"

    async def test_email_is_unique_whatever_the_case(self, db: Any) -> None:
        await new_user(db)
        with pytest.raises(EmailTaken):
            await new_user(db, "ADA@example.com")
        with pytest.raises(EmailTaken):  # a look-alike is the same canonical address
            await new_user(db, "\uff21\uff24\uff21@example.com")
        # The index compares canonical forms as plain strings (no collation that could
        # disagree with the lookups): a document another tool writes in another form is
        # found and reported by the canonical-emails migration (`run.py migrate`).
        raw = users.new_user_doc(first_name="A", last_name="B", email="x@example.com",
                                 password_hash="h", now=NOW)
        raw["email"] = "ada@example.com"
        with pytest.raises(Exception, match="duplicate"):
            await db.users.insert_one(raw)

    async def test_indexes(self, db: Any) -> None:
        names = set((await db.users.index_information()).keys())
        assert {"email_canonical", "verification_token", "reset_token"} <= names
        assert "email_unique" not in names  # the collated index migration 1 drops

    async def test_find_by_id_tolerates_bad_ids(self, db: Any) -> None:
        user = await new_user(db)
        found = await users.find_by_id(db, user.id)
        assert found is not None
        assert (found.id, found.email) == (user.id, user.email)
        assert await users.find_by_id(db, "not-an-id") is None


class TestFindBySession:
    async def test_only_a_live_session_of_an_active_user(self, db: Any) -> None:
        user = await new_user(db)
        await user_sessions.add_session(db, user.id, "s1", 5, NOW)
        assert (await users.find_by_session(db, user.id, "s1")) is not None
        assert await users.find_by_session(db, user.id, "s2") is None
        assert await users.find_by_session(db, "bad", "s1") is None
        await db.users.update_one({}, {"$set": {"isActive": False}})
        assert await users.find_by_session(db, user.id, "s1") is None


RULES = SecurityConfig(max_login_attempts=3, lock_duration=timedelta(hours=2),
                       login_attempt_lease=timedelta(seconds=30))


async def reserve(db: Any, attempt: str, now: Any = NOW) -> Attempts:
    found = await users.reserve_login_attempt(db, "ada@example.com", attempt, now, RULES)
    assert found is not None
    return found[1]


class TestLoginCounters:
    async def test_slots_stop_at_the_limit_and_are_idempotent(self, db: Any) -> None:
        await new_user(db)
        assert [(await reserve(db, a)).granted for a in ("a", "b", "c", "d")] == \
            [True, True, True, False]
        assert (await reserve(db, "a")).granted  # asking again takes no second slot
        assert await users.reserve_login_attempt(db, "nobody@example.com", "x", NOW,
                                                 RULES) is None

    async def test_concurrent_reservations_never_exceed_the_limit(self, db: Any) -> None:
        await new_user(db)
        states = await asyncio.gather(*(reserve(db, f"a{n}") for n in range(15)))
        assert sum(state.granted for state in states) == 3

    async def test_checks_in_flight_never_lock_only_failures_do(self, db: Any) -> None:
        user = await new_user(db)
        for attempt in ("a", "b", "c"):
            assert (await reserve(db, attempt)).granted
        full = await reserve(db, "d")
        assert (full.granted, full.locked_at(NOW)) == (False, False)
        states = [await users.fail_login_attempt(db, user.id, a, NOW, RULES)
                  for a in ("a", "b", "c")]
        assert [s.locked_now for s in states] == [False, False, True]
        assert states[-1].lock_until == NOW + RULES.lock_duration
        assert (await reserve(db, "d")).locked_at(NOW)

    async def test_a_lease_that_ends_frees_its_slot(self, db: Any) -> None:
        await new_user(db)
        for attempt in ("a", "b", "c"):
            await reserve(db, attempt)
        assert not (await reserve(db, "d")).granted
        assert (await reserve(db, "d", NOW + RULES.login_attempt_lease)).granted

    async def test_release_and_an_expired_lock_start_afresh(self, db: Any) -> None:
        user = await new_user(db)
        for attempt in ("a", "b", "c"):
            await reserve(db, attempt)
        await users.release_login_attempt(db, user.email, "a")
        assert (await reserve(db, "d")).granted
        for attempt in ("b", "c", "d"):
            await users.fail_login_attempt(db, user.id, attempt, NOW, RULES)
        later = NOW + RULES.lock_duration
        fresh = await reserve(db, "e", later)
        assert (fresh.granted, fresh.failures, fresh.lock_until) == (True, 0, None)

    async def test_failures_are_forgotten_after_failed_login_ttl(self, db: Any) -> None:
        user = await new_user(db)
        for attempt in ("a", "b"):
            await reserve(db, attempt)
            await users.fail_login_attempt(db, user.id, attempt, NOW, RULES)
        assert (await reserve(db, "c", NOW + timedelta(hours=23))).failures == 2
        assert (await reserve(db, "d", NOW + RULES.failed_login_ttl)).failures == 0

    async def test_a_count_over_a_lowered_limit_locks(self, db: Any) -> None:
        await new_user(db)
        await db.users.update_one({}, {"$set": {"loginAttempts": 4, "loginFailedAt": NOW}})
        state = await reserve(db, "a")
        assert not state.granted
        assert state.lock_until == NOW + RULES.lock_duration


class TestSessions:
    async def test_add_session_keeps_the_newest_and_numbers_them(self, db: Any) -> None:
        user = await new_user(db)
        serials = []
        for n in range(7):
            added = await user_sessions.add_session(db, user.id, f"s{n}", 5, NOW)
            assert added is not None
            serials.append(added.serial)
        assert added.user.active_sessions == ("s2", "s3", "s4", "s5", "s6")
        assert serials == list(range(7))
        stored = await users.find_by_id(db, user.id)
        assert stored is not None
        assert stored.active_sessions == added.user.active_sessions

    async def test_concurrent_adds_get_distinct_serials_in_list_order(self, db: Any) -> None:
        # The serial picks the session document's slot (models/sessions.py): two sessions
        # with one serial would fight over a slot, and the list's order is the serials'.
        user = await new_user(db)
        results = await asyncio.gather(*(user_sessions.add_session(db, user.id, f"s{n}", 3, NOW)
                                         for n in range(8)))
        serial_of = {f"s{n}": r.serial for n, r in enumerate(results) if r}
        assert sorted(serial_of.values()) == list(range(8))
        stored = await users.find_by_id(db, user.id)
        assert stored is not None
        newest = sorted(serial_of, key=serial_of.__getitem__)[-3:]
        assert list(stored.active_sessions) == newest

    async def test_login_resets_counters_and_upgrades_the_hash(self, db: Any) -> None:
        user = await new_user(db)
        await reserve(db, "a")
        added = await user_sessions.add_session(db, user.id, "s1", 5, NOW, login=True,
                                                new_hash="new", attempt="a")
        assert added is not None
        after = added.user
        assert (after.login_attempts, after.password_hash) == (0, "new")
        assert (await db.users.find_one({}))["loginPending"] == []  # the attempt is settled
        assert after.last_login is not None
        stored = await users.find_by_id(db, user.id)
        assert stored is not None
        assert (stored.login_attempts, stored.password_hash) == (0, "new")

    async def test_remove_sessions(self, db: Any) -> None:
        user = await new_user(db)
        for sid in ("a", "b", "c"):
            await user_sessions.add_session(db, user.id, sid, 5, NOW)
        await user_sessions.remove_sessions(db, user.id, ["a"])
        assert (await users.find_by_id(db, user.id)).active_sessions == ("b", "c")  # type: ignore[union-attr]
        await user_sessions.remove_sessions(db, user.id, keep="c")
        assert (await users.find_by_id(db, user.id)).active_sessions == ("c",)  # type: ignore[union-attr]
        await user_sessions.remove_sessions(db, user.id)
        assert (await users.find_by_id(db, user.id)).active_sessions == ()  # type: ignore[union-attr]


class TestTokens:
    async def test_verification_is_single_use_and_expires(self, db: Any) -> None:
        user = await new_user(db)
        await users.set_verification_token(db, user.id, "h1", NOW + timedelta(hours=1))
        assert await users.verify_email(db, "h1", NOW + timedelta(hours=2)) is None
        verified = await users.verify_email(db, "h1", NOW)
        assert verified is not None
        assert verified.is_email_verified
        assert await users.verify_email(db, "h1", NOW) is None

    async def test_reset_sets_password_clears_lock_and_sessions(self, db: Any) -> None:
        user = await new_user(db)
        await user_sessions.add_session(db, user.id, "s1", 5, NOW)
        await db.users.update_one({}, {"$set": {"lockUntil": NOW + timedelta(hours=1),
                                                "loginAttempts": 5}})
        assert await users.set_reset_token(db, "nobody@example.com", "r", NOW) is None
        await users.set_reset_token(db, " ADA@example.com", "r1", NOW + timedelta(minutes=10))
        done = await user_credentials.reset_password(db, "r1", "newhash", NOW)
        assert done is not None
        assert (done.password_hash, done.login_attempts, done.lock_until) == ("newhash", 0, None)
        assert done.active_sessions == ()
        assert await user_credentials.reset_password(db, "r1", "other", NOW) is None
