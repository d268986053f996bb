"""The `rate_limits` collection: one counter document per (budget, subject, window start)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from server.db import INDEX_BUILDERS

COLLECTION = "rate_limits"

# Document: {_id: "<budget>:<subject>:<window start>", n: <hits so far>, expiresAt: <window end>}.
# The window start is part of the key, so a new window is a new document and nothing is ever
# reset in place; the TTL index only sweeps finished windows away.


async def ensure_indexes(db: Any) -> None:
    """TTL index: a counter disappears once its window has ended."""
    await db[COLLECTION].create_index("expiresAt", expireAfterSeconds=0)


INDEX_BUILDERS.append(ensure_indexes)


async def increment(db: Any, key: str, amount: int, expires_at: datetime) -> int:
    """Atomically add `amount` to a counter (creating it) and return its new total.

    One findAndModify: the server serialises concurrent increments of one document, so
    every caller in every process sees a distinct total."""
    try:
        return await _find_and_inc(db, key, amount, expires_at)
    except DuplicateKeyError:
        # Two processes upserted the same new key at once: one insert wins, and the loser
        # retries as what is now a plain update.
        return await _find_and_inc(db, key, amount, expires_at)


async def _find_and_inc(db: Any, key: str, amount: int, expires_at: datetime) -> int:
    doc = await db[COLLECTION].find_one_and_update(
        {"_id": key},
        {"$inc": {"n": amount}, "$setOnInsert": {"expiresAt": expires_at}},
        upsert=True, projection={"n": True, "_id": False},
        return_document=ReturnDocument.AFTER)
    return int(doc["n"])


async def increment_many(db: Any, hits: Sequence[tuple[str, int, datetime]]) -> list[int]:
    """`increment` for several counters at once (one round trip each, in parallel)."""
    return list(await asyncio.gather(*(increment(db, key, amount, expires)
                                       for key, amount, expires in hits)))
