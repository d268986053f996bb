"""The `session_auth` collection: how and when a session's user authenticated.

Document: {_id: session id, user: user id, amr: ["pwd"] | ["pwd", "otp"], authTime: the
sign-in time, expiresAt}. Written when a sign-in starts a session; read when a refresh mints
an access token, so `amr` and `auth_time` survive rotation. Kept apart from the sessions
collection so that its storage can change independently; expiresAt follows the refresh
lifetime and a TTL index removes what is left of an ended session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

COLLECTION = "session_auth"
INDEXES = [IndexModel([("expiresAt", ASCENDING)], name="expires_at", expireAfterSeconds=0)]


@dataclass(frozen=True, slots=True)
class SessionAuth:
    amr: tuple[str, ...]
    auth_time: datetime
    expires_at: datetime


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)


async def record(db: Any, session_id: str, user_id: str, amr: list[str], auth_time: datetime,
                 expires: datetime) -> None:
    await db[COLLECTION].replace_one(
        {"_id": session_id},
        {"user": user_id, "amr": amr, "authTime": auth_time, "expiresAt": expires},
        upsert=True)


async def find(db: Any, session_id: str) -> SessionAuth | None:
    doc = await db[COLLECTION].find_one({"_id": session_id})
    if doc is None:
        return None
    return SessionAuth(tuple(doc.get("amr") or ("pwd",)), doc["authTime"], doc["expiresAt"])


async def extend(db: Any, session_id: str, expires: datetime) -> None:
    """Keep the record as long as the session's refresh token lives."""
    await db[COLLECTION].update_one({"_id": session_id}, {"$set": {"expiresAt": expires}})
