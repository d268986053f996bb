"""The `sessions` collection: one document per login, holding its refresh-token hashes.

`_id` is the session id (24 hex, also the access token's `sid`). The refresh token is stored
only as `refreshHash`; the hashes of the last ROTATED_KEPT rotated tokens stay in
`previousHashes` so a replayed old token is recognised (reuse detection). A TTL index drops a
session when `expiresAt` (pushed forward by each rotation) passes.

The n-th session a user starts (n = its serial, counted on the user) sits in `slot`
n % max_sessions, and a unique index allows one document per user and slot: so a user never
has more than max_sessions session documents, even when a worker dies between writes (the
cap is enforced by the same insert that stores the session). The session a new one pushes
out of the user's capped list is the one started max_sessions earlier: the occupant of the
new one's slot, which `free_slot` removes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from models.filters import same

COLLECTION = "sessions"
ROTATED_KEPT = 20

INDEXES = [
    IndexModel([("expiresAt", ASCENDING)], name="expires_ttl", expireAfterSeconds=0),
    IndexModel([("user", ASCENDING), ("createdAt", ASCENDING)], name="user_created"),
    IndexModel([("user", ASCENDING), ("slot", ASCENDING)], name="user_slot", unique=True,
               partialFilterExpression={"slot": {"$exists": True}}),
]


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user_id: str
    refresh_hash: str
    previous_hashes: tuple[str, ...]
    generation: int
    rotated_at: datetime | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Session:
        return cls(id=doc["_id"], user_id=str(doc["user"]), refresh_hash=doc["refreshHash"],
                   previous_hashes=tuple(doc.get("previousHashes") or ()),
                   generation=doc.get("generation", 0), rotated_at=doc.get("rotatedAt"),
                   created_at=doc["createdAt"], last_used_at=doc["lastUsedAt"],
                   expires_at=doc["expiresAt"], user_agent=doc.get("userAgent"),
                   ip=doc.get("ip"))

    @property
    def last_rotated_hash(self) -> str | None:
        """The hash of the token this session's current token replaced, if any."""
        return self.previous_hashes[-1] if self.previous_hashes else None


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)



def new_session_id() -> str:
    return str(ObjectId())


async def insert_session(db: Any, *, session_id: str, user_id: str, refresh_hash: str,
                         now: datetime, expires: datetime, user_agent: str | None,
                         ip: str | None, serial: int | None = None,
                         max_sessions: int = 1) -> Session | None:
    """Store a session; with `serial`, in its slot. None when that slot is taken."""
    doc: dict[str, Any] = {
        "_id": session_id, "user": ObjectId(user_id), "refreshHash": refresh_hash,
        "previousHashes": [], "generation": 0, "rotatedAt": None, "createdAt": now,
        "lastUsedAt": now, "expiresAt": expires, "userAgent": user_agent, "ip": ip}
    if serial is not None:
        doc.update(serial=serial, slot=serial % max_sessions)
    try:
        await db[COLLECTION].insert_one(doc)
    except DuplicateKeyError as exc:
        if serial is not None and _is_slot_conflict(exc):
            return None
        raise  # any other conflict is a real failure, never a silently missing session
    return Session.from_doc(doc)


def _is_slot_conflict(exc: DuplicateKeyError) -> bool:
    # keyPattern since MongoDB 4.4 (and the embedded database); the index name in errmsg
    # before that.
    details = exc.details or {}
    pattern = details.get("keyPattern")
    if pattern is not None:
        return set(pattern) == {"user", "slot"}
    return "user_slot" in str(details.get("errmsg", ""))


async def free_slot(db: Any, user_id: str, serial: int, max_sessions: int) -> str | None:
    """Delete the user's session in the slot of `serial` if it is an older one (the session
    that `serial` pushed out, or a dead leftover); returns its id, or None."""
    doc = await db[COLLECTION].find_one_and_delete(
        {"user": ObjectId(user_id), "slot": serial % max_sessions, "serial": {"$lt": serial}},
        projection={"_id": 1})
    return None if doc is None else str(doc["_id"])


async def find_session(db: Any, session_id: str) -> Session | None:
    doc = await db[COLLECTION].find_one({"_id": session_id})
    return Session.from_doc(doc) if doc else None


async def rotate(db: Any, session_id: str, old_hash: str, new_hash: str, now: datetime,
                 expires: datetime, *, user_id: str | None = None) -> bool:
    """Replace the current refresh hash, only if it is still `old_hash` (so of two racing
    refreshes exactly one rotates); with `user_id`, only for that user's unexpired session.
    True when this call rotated. (A plain update keyed by `_id`: the embedded database runs
    it as a point lookup, where findAndModify scans the collection.)"""
    # models/filters.py's form: the embedded database plans it without an index walk.
    query: dict[str, Any] = {"_id": session_id, "refreshHash": same(old_hash)}
    if user_id is not None:
        query.update(user=same(ObjectId(user_id)), expiresAt={"$gt": now})
    result = await db[COLLECTION].update_one(
        query,
        {"$set": {"refreshHash": new_hash, "rotatedAt": now, "lastUsedAt": now,
                  "expiresAt": expires},
         "$inc": {"generation": 1},
         "$push": {"previousHashes": {"$each": [old_hash], "$slice": -ROTATED_KEPT}}})
    return bool(result.modified_count)


async def list_for_user(db: Any, user_id: str, session_ids: tuple[str, ...],
                        now: datetime) -> list[Session]:
    """The user's unexpired sessions among `session_ids`, oldest first."""
    cursor = db[COLLECTION].find(
        {"_id": {"$in": list(session_ids)}, "user": ObjectId(user_id),
         "expiresAt": {"$gt": now}}).sort("createdAt", ASCENDING)
    return [Session.from_doc(doc) async for doc in cursor]


async def delete_sessions(db: Any, user_id: str, session_ids: list[str] | None = None,
                          *, keep: list[str] | None = None) -> int:
    """Delete the user's sessions: the given ids, or all but those in `keep`. Returns the
    number deleted."""
    query: dict[str, Any] = {"user": ObjectId(user_id)}
    if session_ids is not None:
        query["_id"] = {"$in": session_ids}
    elif keep is not None:
        query["_id"] = {"$nin": keep}
    result = await db[COLLECTION].delete_many(query)
    return int(result.deleted_count)
