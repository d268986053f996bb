"""The `outbox` collection: queued mail, its delivery state, and every query on it.

A message is `pending` until a sender delivers it (`sent`) or gives up (`failed`).
`nextAttemptAt` is when it is due; a sender claims a due message by pushing `nextAttemptAt`
forward by a lease and stamping a fresh `claim` id in one find_one_and_update, so two
workers (or hosts) never hold the same message at once. If the claimer dies, the lease runs
out and another sender retries it. Results are written only under the same `claim`, so a
sender whose lease was taken over cannot overwrite the new owner's state.
Once a message is sent or has failed its body is removed: it holds a raw token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, IndexModel, ReturnDocument


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """One message to enqueue: a recipient, a subject and the same content twice."""

    to: str
    subject: str
    text: str
    html: str



COLLECTION = "outbox"
PENDING, SENT, FAILED = "pending", "sent", "failed"
# Sent and failed entries (bodies already stripped) are kept this long for operators.
KEEP_FINISHED = timedelta(days=7)

INDEXES = [
    # The due-message scan, and expiry of finished entries.
    IndexModel([("status", ASCENDING), ("nextAttemptAt", ASCENDING)], name="status_due"),
    IndexModel([("finishedAt", ASCENDING)], name="finished_ttl",
               expireAfterSeconds=int(KEEP_FINISHED.total_seconds())),
]


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: str
    to: str
    subject: str
    text: str
    html: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    finished_at: datetime | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OutboxMessage:
        return cls(id=str(doc["_id"]), to=doc["to"], subject=doc["subject"],
                   text=doc.get("text", ""), html=doc.get("html", ""), status=doc["status"],
                   attempts=doc.get("attempts", 0), created_at=doc["createdAt"],
                   next_attempt_at=doc["nextAttemptAt"], last_error=doc.get("lastError"),
                   finished_at=doc.get("finishedAt"))


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)


async def enqueue(db: Any, mail: OutgoingMail, now: datetime) -> str:
    """Store a message as pending and due now; returns its id."""
    result = await db[COLLECTION].insert_one({
        "to": mail.to, "subject": mail.subject, "text": mail.text, "html": mail.html,
        "status": PENDING, "attempts": 0, "createdAt": now, "nextAttemptAt": now,
        "claim": None, "lastError": None,
    })
    return str(result.inserted_id)


async def claim_due(db: Any, now: datetime, lease: timedelta, claim: str) -> OutboxMessage | None:
    """Atomically take the oldest due pending message for `lease`, counting an attempt."""
    doc = await db[COLLECTION].find_one_and_update(
        {"status": PENDING, "nextAttemptAt": {"$lte": now}},
        {"$set": {"nextAttemptAt": now + lease, "claim": claim}, "$inc": {"attempts": 1}},
        sort=[("nextAttemptAt", ASCENDING)],
        return_document=ReturnDocument.AFTER,
    )
    return None if doc is None else OutboxMessage.from_doc(doc)


async def mark_sent(db: Any, message_id: str, claim: str, now: datetime) -> bool:
    """Record delivery and drop the body; False if the claim was lost meanwhile."""
    return await _finish(db, message_id, claim, SENT, now, None)


async def mark_failed(db: Any, message_id: str, claim: str, now: datetime, error: str) -> bool:
    """Give up on a message (attempts exhausted) and drop its body."""
    return await _finish(db, message_id, claim, FAILED, now, error)


async def schedule_retry(db: Any, message_id: str, claim: str, at: datetime, error: str) -> bool:
    """Release a claimed message to be tried again at `at`."""
    result = await db[COLLECTION].update_one(
        {"_id": ObjectId(message_id), "claim": claim},
        {"$set": {"nextAttemptAt": at, "claim": None, "lastError": error}},
    )
    return bool(result.modified_count)


async def get(db: Any, message_id: str) -> OutboxMessage | None:
    """One message by id (operators and tests), or None."""
    try:
        oid = ObjectId(message_id)
    except InvalidId:
        return None
    doc = await db[COLLECTION].find_one({"_id": oid})
    return None if doc is None else OutboxMessage.from_doc(doc)


async def count_by_status(db: Any) -> dict[str, int]:
    """How many messages are pending, sent and failed."""
    counts = {PENDING: 0, SENT: 0, FAILED: 0}
    async for row in db[COLLECTION].aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
        counts[row["_id"]] = row["n"]
    return counts


async def _finish(db: Any, message_id: str, claim: str, status: str, now: datetime,
                  error: str | None) -> bool:
    changes: dict[str, Any] = {"status": status, "finishedAt": now, "claim": None}
    if error is not None:
        changes["lastError"] = error
    result = await db[COLLECTION].update_one(
        {"_id": ObjectId(message_id), "claim": claim},
        {"$set": changes, "$unset": {"text": "", "html": ""}},
    )
    return bool(result.modified_count)
