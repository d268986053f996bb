"""models/login_failures.py against the real database: TTL index, upserts, expiry times."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from models import login_failures
from server.core.clock import utcnow
from server.core.config import SecurityConfig
from server.security import address_digest

RULES = SecurityConfig(max_login_attempts=3)
KEY = address_digest("secret", "nobody@example.com")


@pytest.fixture
def now() -> datetime:
    """This test's instant, in whole seconds (the database keeps milliseconds). Never one
    taken at import: the TTL monitor deletes a count once its expiresAt (now + a 30 s lease)
    has passed, and a whole-suite run reaches these tests minutes after the import."""
    return utcnow().replace(microsecond=0)


class TestLoginFailures:
    async def test_a_ttl_index_removes_documents_at_expires_at(self, db: Any) -> None:
        info = await db.login_failures.index_information()
        assert info["expires_at"]["key"] == [("expiresAt", 1)]
        assert info["expires_at"]["expireAfterSeconds"] == 0

    async def test_the_key_is_a_keyed_hash_never_the_address(self) -> None:
        assert "nobody" not in KEY
        assert len(KEY) == 64
        assert address_digest("other secret", "nobody@example.com") != KEY

    async def test_concurrent_first_attempts_share_one_count(self, db: Any, now: datetime) -> None:
        states = await asyncio.gather(*(login_failures.reserve(db, KEY, f"a{n}", now, RULES)
                                        for n in range(10)))
        assert sum(state.granted for state in states) == 3
        assert await db.login_failures.count_documents({}) == 1

    async def test_kept_past_the_lease_the_forgetting_time_and_the_lock(
            self, db: Any, now: datetime) -> None:
        await login_failures.reserve(db, KEY, "a", now, RULES)
        doc = await db.login_failures.find_one({"_id": KEY})
        assert doc["expiresAt"] == now + RULES.login_attempt_lease
        await login_failures.fail(db, KEY, "a", now, RULES)
        doc = await db.login_failures.find_one({"_id": KEY})
        assert doc["expiresAt"] == now + RULES.failed_login_ttl
        long_lock = SecurityConfig(max_login_attempts=1, lock_duration=timedelta(days=3))
        other = address_digest("secret", "other@example.com")
        await login_failures.reserve(db, other, "b", now, long_lock)
        locked = await login_failures.fail(db, other, "b", now, long_lock)
        assert locked.locked_now
        doc = await db.login_failures.find_one({"_id": other})
        assert doc["expiresAt"] == now + timedelta(days=3)

    async def test_release_gives_the_slot_back_uncounted(self, db: Any, now: datetime) -> None:
        for attempt in ("a", "b", "c"):
            await login_failures.reserve(db, KEY, attempt, now, RULES)
        await login_failures.release(db, KEY, "a")
        state = await login_failures.reserve(db, KEY, "d", now, RULES)
        assert (state.granted, state.failures) == (True, 0)
