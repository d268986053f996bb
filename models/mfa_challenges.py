"""The `mfa_challenges` collection: sign-ins whose password was right, waiting for a second factor.

Document: {_id: SHA-256 of the mfaToken (never the token), user: user id, version: the
user's credentialVersion when the password was checked, createdAt, expiresAt}. A challenge
is used once (deleted by the sign-in it completes) and lives 5 minutes; a TTL index then
removes what nobody used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

COLLECTION = "mfa_challenges"
INDEXES = [IndexModel([("expiresAt", ASCENDING)], name="expires_at", expireAfterSeconds=0)]


@dataclass(frozen=True, slots=True)
class Challenge:
    user_id: str
    version: int
    created_at: datetime


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)


async def insert(db: Any, token_hash: str, user_id: str, version: int, now: datetime,
                 expires: datetime) -> None:
    await db[COLLECTION].insert_one({"_id": token_hash, "user": user_id, "version": version,
                                     "createdAt": now, "expiresAt": expires})


async def find_live(db: Any, token_hash: str, now: datetime) -> Challenge | None:
    """The unexpired challenge of this token hash (the TTL monitor runs only once a minute,
    so expiry is checked here too)."""
    doc = await db[COLLECTION].find_one({"_id": token_hash, "expiresAt": {"$gt": now}})
    if doc is None:
        return None
    return Challenge(user_id=doc["user"], version=int(doc.get("version") or 0),
                     created_at=doc["createdAt"])


async def consume(db: Any, token_hash: str, now: datetime) -> bool:
    """Use the challenge up: True for exactly one caller, and only before it expires."""
    result = await db[COLLECTION].delete_one({"_id": token_hash, "expiresAt": {"$gt": now}})
    return bool(result.deleted_count)
