"""reserve_fields (computed in Python, for a conditional write) against reserve_update (the
aggregation pipeline, run by the real database): the same result for every kind of state."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest

from models import attempts
from server.core.clock import utcnow
from server.core.config import SecurityConfig

RULES = SecurityConfig(max_login_attempts=3)
LOCKS = {"none": None, "running": timedelta(minutes=5), "over": -timedelta(minutes=5),
         "missing": "missing"}
FAILED_AT = {"never": None, "recent": -timedelta(minutes=1),
             "forgotten": -RULES.failed_login_ttl - timedelta(minutes=1)}
PENDING = {"none": [], "one live": ["live"], "one expired": ["expired"],
           "two live, one expired": ["live", "live", "expired"], "mine": ["mine"],
           "missing": "missing"}


@pytest.fixture
def now() -> datetime:
    return utcnow().replace(microsecond=0)  # whole seconds: the database keeps milliseconds


def state(now: datetime, lock: Any, failed_at: Any, failures: int, pending: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"loginAttempts": failures}
    if lock != "missing":
        doc["lockUntil"] = None if lock is None else now + lock
    doc["loginFailedAt"] = None if failed_at is None else now + failed_at
    if pending != "missing":
        doc["loginPending"] = [
            {"id": "a" if kind == "mine" else f"p{n}",
             "until": now + (timedelta(seconds=-1) if kind == "expired" else timedelta(seconds=20))}
            for n, kind in enumerate(pending)]
    return doc


async def test_the_python_reservation_matches_the_pipeline(db: Any, now: datetime) -> None:
    cases = list(itertools.product(LOCKS.values(), FAILED_AT.values(), range(5),
                                   PENDING.values()))
    for n, (lock, failed_at, failures, pending) in enumerate(cases):
        doc = {"_id": n, **state(now, lock, failed_at, failures, pending)}
        await db.mirror.insert_one(doc)
        await db.mirror.update_one({"_id": n}, attempts.reserve_update("a", now, RULES))
        by_pipeline = await db.mirror.find_one({"_id": n})
        by_python = {**doc, **attempts.reserve_fields(doc, "a", now, RULES)}
        for name in ("loginAttempts", "lockUntil", "loginPending"):
            assert by_python.get(name) == by_pipeline.get(name), (name, doc)
        assert attempts.state_of(by_python, "a", now, RULES) == \
            attempts.state_of(by_pipeline, "a", now, RULES), doc


async def test_a_conditional_write_misses_once_another_attempt_wrote(db: Any,
                                                                   now: datetime) -> None:
    doc = {"_id": 1, **state(now, None, None, 0, [])}
    await db.mirror.insert_one(doc)
    mine = attempts.reserve_fields(doc, "a", now, RULES)
    theirs = attempts.reserve_fields(doc, "b", now, RULES)
    first = await db.mirror.update_one({"_id": 1, **attempts.read_fields(doc)}, {"$set": theirs})
    second = await db.mirror.update_one({"_id": 1, **attempts.read_fields(doc)}, {"$set": mine})
    assert (first.modified_count, second.modified_count) == (1, 0)
