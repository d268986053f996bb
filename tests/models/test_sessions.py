"""models/sessions.py against the real database: TTL index, conditional rotation, queries."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bson import ObjectId

from models import sessions
from server.core.clock import utcnow

NOW = utcnow()
# An expiry far past the suite's length: the TTL monitor deletes a session whose expiresAt has
# passed, and a whole-suite run reaches these tests minutes after NOW was taken.
LATER = NOW + timedelta(days=1)
USER = str(ObjectId())



async def new_session(db: Any, user: str = USER, created: timedelta = timedelta(0),
                      ttl: timedelta = timedelta(days=7)) -> sessions.Session:
    return await sessions.insert_session(
        db, session_id=sessions.new_session_id(), user_id=user, refresh_hash="h0",
        now=NOW + created, expires=NOW + created + ttl, user_agent="UA", ip="127.0.0.1")


class TestIndexes:
    async def test_expired_sessions_are_dropped_by_a_ttl_index(self, db: Any) -> None:
        info = await db.sessions.index_information()
        assert info["expires_ttl"]["expireAfterSeconds"] == 0
        assert info["expires_ttl"]["key"] == [("expiresAt", 1)]


class TestRotate:
    async def test_only_the_current_hash_rotates(self, db: Any) -> None:
        session = await new_session(db)
        later = NOW + timedelta(minutes=1)
        assert await sessions.rotate(db, session.id, "h0", "h1", later, later + timedelta(7))
        assert not await sessions.rotate(db, session.id, "h0", "h2", later, later)
        found = await sessions.find_session(db, session.id)
        assert found is not None
        assert (found.refresh_hash, found.previous_hashes, found.generation) == \
            ("h1", ("h0",), 1)
        assert found.last_rotated_hash == "h0"

    async def test_racing_rotations_let_exactly_one_win(self, db: Any) -> None:
        session = await new_session(db)
        wins = await asyncio.gather(*(sessions.rotate(db, session.id, "h0", f"n{i}", NOW, LATER)
                                      for i in range(8)))
        assert wins.count(True) == 1

    async def test_rotated_history_is_capped(self, db: Any) -> None:
        session = await new_session(db)
        for n in range(sessions.ROTATED_KEPT + 5):
            assert await sessions.rotate(db, session.id, f"h{n}", f"h{n + 1}", NOW,
                                         LATER)
        found = await sessions.find_session(db, session.id)
        assert found is not None
        assert len(found.previous_hashes) == sessions.ROTATED_KEPT
        assert found.previous_hashes[-1] == f"h{sessions.ROTATED_KEPT + 4}"


class TestQueries:
    async def test_list_for_user_is_live_own_and_oldest_first(self, db: Any) -> None:
        newer = await new_session(db, created=timedelta(minutes=5))
        older = await new_session(db)
        expired = await new_session(db, ttl=timedelta(seconds=-1))
        foreign = await new_session(db, user=str(ObjectId()))
        ids = (newer.id, older.id, expired.id, foreign.id)
        found = await sessions.list_for_user(db, USER, ids, NOW)
        assert [s.id for s in found] == [older.id, newer.id]

    async def test_delete_sessions(self, db: Any) -> None:
        kept, gone, other = (await new_session(db), await new_session(db),
                             await new_session(db))
        foreign = await new_session(db, user=str(ObjectId()))
        assert await sessions.delete_sessions(db, USER, [gone.id, foreign.id]) == 1
        assert await sessions.delete_sessions(db, USER, keep=[kept.id]) == 1
        assert await sessions.find_session(db, kept.id) is not None
        assert await sessions.find_session(db, other.id) is None
        assert await sessions.find_session(db, foreign.id) is not None
        assert await sessions.delete_sessions(db, USER) == 1


class TestSlots:
    async def _in_slot(self, db: Any, serial: int, user: str = USER) -> sessions.Session | None:
        return await sessions.insert_session(
            db, session_id=sessions.new_session_id(), user_id=user, refresh_hash="h",
            now=NOW, expires=NOW + timedelta(days=1), user_agent=None, ip=None,
            serial=serial, max_sessions=3)

    async def test_one_document_per_user_and_slot(self, db: Any) -> None:
        assert await self._in_slot(db, 0) is not None
        assert await self._in_slot(db, 3) is None  # slot 0 again: the cap holds
        assert await self._in_slot(db, 1) is not None
        assert await self._in_slot(db, 3, user=str(ObjectId())) is not None
        assert await db.sessions.count_documents({"user": ObjectId(USER)}) == 2

    async def test_free_slot_removes_an_older_occupant_only(self, db: Any) -> None:
        first = await self._in_slot(db, 1)
        assert first is not None
        assert await sessions.free_slot(db, USER, 1, 3) is None  # itself is not older
        assert await sessions.free_slot(db, USER, 4, 3) == first.id
        assert await sessions.find_session(db, first.id) is None
        assert await self._in_slot(db, 4) is not None

    async def test_unslotted_documents_are_not_limited(self, db: Any) -> None:
        for _ in range(4):
            await new_session(db)
        assert await db.sessions.count_documents({}) == 4
