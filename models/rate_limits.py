"""The `rate_limits` collection: one counter document per (budget, subject, window start)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

COLLECTION = "rate_limits"

# Document: {_id: "<budget>:<subject>:<window start>", n: <hits so far>, expiresAt: <window end>}.
# The window start is part of the key, so a new window is a new document and nothing is ever
# reset in place; the TTL index only sweeps finished windows away.


# TTL index: a counter disappears once its window has ended.
INDEXES = [IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0)]


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)


async def increment(db: Any, key: str, amount: int, expires_at: datetime) -> int:
    """Atomically add `amount` to a counter (creating it at 0 first) and return its new total.

    The server serialises `$inc`s of one document, so every caller in every process sees a
    distinct total. No upsert: two processes upserting the same new key at once is a race
    (MongoDB answers one of them with a duplicate-key error, and the embedded database with
    no document at all, though it did apply the increment). Creating the document apart,
    and ignoring "already exists", leaves only plain `$inc`s, which never race."""
    total = await _add(db, key, amount)
    if total is None:
        with contextlib.suppress(DuplicateKeyError):  # another process created it first
            await db[COLLECTION].insert_one({"_id": key, "n": 0, "expiresAt": expires_at})
        total = await _add(db, key, amount)
    if total is None:
        raise OperationFailure(f"rate limit counter vanished: {key}")
    return total


async def _add(db: Any, key: str, amount: int) -> int | None:
    doc = await db[COLLECTION].find_one_and_update(
        {"_id": key}, {"$inc": {"n": amount}}, projection={"n": True, "_id": False},
        return_document=ReturnDocument.AFTER)
    return None if doc is None else int(doc["n"])


async def increment_many(db: Any, hits: Sequence[tuple[str, int, datetime]]) -> list[int]:
    """`increment` for several counters at once (one round trip each, in parallel)."""
    return list(await asyncio.gather(*(increment(db, key, amount, expires)
                                       for key, amount, expires in hits)))
