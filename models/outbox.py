"""The `outbox` collection: queued mail, its delivery state, and every query on it.

A message is `pending` until a sender delivers it (`sent`) or gives up (`failed`).
`nextAttemptAt` is when it is due; a sender claims a due message by pushing `nextAttemptAt`
forward by a lease and stamping a fresh `claim` id in one conditional update, so two
workers (or hosts) never hold the same message at once. If the claimer dies, the lease runs
out and another sender retries it. Results are written only under the same `claim`, so a
sender whose lease was taken over cannot overwrite the new owner's state.
Once a message is sent or has failed its body is removed: it holds a raw token.

A message carrying a link may have a `guard`: the users field and token hash its link
needs. A flow queues such a message BEFORE it stores the token, so a crash between the two
writes can never leave a stored token without its mail; the sender delivers a guarded
message only while some user holds that hash, and `cancelled` it otherwise (the flow died
before storing the token, failed, or a newer link replaced it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, IndexModel

from models.filters import same, unchanged


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """One message to enqueue: a recipient, a subject and the same content twice."""

    to: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Guard:
    """Deliver only while a user's `field` (a token-hash field of users) holds `token_hash`."""

    field: str
    token_hash: str


COLLECTION = "outbox"
PENDING, SENT, FAILED, CANCELLED = "pending", "sent", "failed", "cancelled"
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
    guard: Guard | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OutboxMessage:
        guard = doc.get("guard")
        return cls(id=str(doc["_id"]), to=doc["to"], subject=doc["subject"],
                   text=doc.get("text", ""), html=doc.get("html", ""), status=doc["status"],
                   attempts=doc.get("attempts", 0), created_at=doc["createdAt"],
                   next_attempt_at=doc["nextAttemptAt"], last_error=doc.get("lastError"),
                   finished_at=doc.get("finishedAt"),
                   guard=Guard(guard["field"], guard["hash"]) if guard else None)


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)


async def enqueue(db: Any, mail: OutgoingMail, now: datetime, *,
                  guard: Guard | None = None) -> str:
    """Store a message as pending and due now; returns its id."""
    doc: dict[str, Any] = {
        "to": mail.to, "subject": mail.subject, "text": mail.text, "html": mail.html,
        "status": PENDING, "attempts": 0, "createdAt": now, "nextAttemptAt": now,
        "claim": None, "lastError": None,
    }
    if guard is not None:
        doc["guard"] = {"field": guard.field, "hash": guard.token_hash}
    result = await db[COLLECTION].insert_one(doc)
    return str(result.inserted_id)


async def discard(db: Any, message_id: str) -> None:
    """Delete a message that is still pending (its flow failed before storing the token)."""
    await db[COLLECTION].delete_one({"_id": ObjectId(message_id), "status": PENDING})


CLAIM_TRIES = 5  # racing senders: each lost race means another sender took that message


async def claim_due(db: Any, now: datetime, lease: timedelta, claim: str) -> OutboxMessage | None:
    """Take the oldest due pending message for `lease`, counting an attempt; None when none
    is due (see claim_next)."""
    return (await claim_next(db, now, lease, claim))[0]


async def claim_next(db: Any, now: datetime, lease: timedelta,
                     claim: str) -> tuple[OutboxMessage | None, bool]:
    """Take the oldest due pending message for `lease`, counting an attempt (None when none
    is due), and say whether another one was due at that moment: a sender that drains the
    outbox stops there, without one more find that would find nothing.

    A find on the status_due index, then an update keyed by `_id` that lands only if no
    other sender claimed the message in between (its nextAttemptAt and claim are still as
    read). Not one findAndModify: the embedded database scans the whole collection for
    that, and the outbox keeps a week of finished mail."""
    for _ in range(CLAIM_TRIES):
        due = await db[COLLECTION].find(
            {"status": PENDING, "nextAttemptAt": {"$lte": now}},
            sort=[("nextAttemptAt", ASCENDING)], limit=2).to_list(2)
        if not due:
            return None, False
        found = due[0]
        taken = {"nextAttemptAt": now + lease, "claim": claim,
                 "attempts": found.get("attempts", 0) + 1}
        result = await db[COLLECTION].update_one(
            {"_id": found["_id"], **unchanged({"status": PENDING,
                                               "nextAttemptAt": found["nextAttemptAt"],
                                               "claim": found.get("claim")})},
            {"$set": {"nextAttemptAt": taken["nextAttemptAt"], "claim": claim},
             "$inc": {"attempts": 1}})
        if result.modified_count:
            return OutboxMessage.from_doc({**found, **taken}), len(due) > 1
    return None, False  # every try lost a race: the next poll tries again


async def mark_sent(db: Any, message_id: str, claim: str, now: datetime) -> bool:
    """Record delivery and drop the body; False if the claim was lost meanwhile."""
    return await _finish(db, message_id, claim, SENT, now, None)


async def mark_failed(db: Any, message_id: str, claim: str, now: datetime, error: str) -> bool:
    """Give up on a message (attempts exhausted) and drop its body."""
    return await _finish(db, message_id, claim, FAILED, now, error)


async def schedule_retry(db: Any, message_id: str, claim: str, at: datetime, error: str) -> bool:
    """Release a claimed message to be tried again at `at`."""
    result = await db[COLLECTION].update_one(
        {"_id": ObjectId(message_id), "claim": same(claim)},
        {"$set": {"nextAttemptAt": at, "claim": None, "lastError": error}},
    )
    return bool(result.modified_count)


async def defer(db: Any, message_id: str, claim: str, at: datetime) -> bool:
    """Release a claimed message until `at` without counting the attempt (its guard does not
    hold yet: the flow that queued it may not have stored the token so far)."""
    result = await db[COLLECTION].update_one(
        {"_id": ObjectId(message_id), "claim": same(claim)},
        {"$set": {"nextAttemptAt": at, "claim": None}, "$inc": {"attempts": -1}},
    )
    return bool(result.modified_count)


async def cancel(db: Any, message_id: str, claim: str, now: datetime) -> bool:
    """Give up on a message whose link no user holds, and drop its body."""
    return await _finish(db, message_id, claim, CANCELLED, now, "link not stored")


async def get(db: Any, message_id: str) -> OutboxMessage | None:
    """One message by id (operators and tests), or None."""
    try:
        oid = ObjectId(message_id)
    except InvalidId:
        return None
    doc = await db[COLLECTION].find_one({"_id": oid})
    return None if doc is None else OutboxMessage.from_doc(doc)


async def count_by_status(db: Any) -> dict[str, int]:
    """How many messages are pending, sent and failed (and cancelled, when there are any)."""
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
        {"_id": ObjectId(message_id), "claim": same(claim)},
        {"$set": changes, "$unset": {"text": "", "html": ""}},
    )
    return bool(result.modified_count)
