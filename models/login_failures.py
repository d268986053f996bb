"""The `login_failures` collection: failed-login counts of addresses that have no account.

Counting them like accounts (models/attempts.py, the same updates) makes a login on an
unknown address answer exactly as one on a known account, lock included, so a run of
failures does not tell whether an account exists. Document:
  {_id: keyed hash of the canonical address (never the address), loginAttempts, lockUntil,
   loginPending, loginFailedAt, expiresAt}
expiresAt is kept past the lock, the forgetting time and any live lease; a TTL index then
removes the document, which by then reads exactly like a fresh one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from models import attempts
from models.attempts import Attempts
from server.core.config import SecurityConfig

COLLECTION = "login_failures"


# TTL index: a count disappears once nothing in it can matter any more.
INDEXES = [IndexModel([("expiresAt", ASCENDING)], name="expires_at", expireAfterSeconds=0)]


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)


def _keep_until(*moments: Any) -> dict[str, Any]:
    return {"$set": {"expiresAt": {"$max": [{"$ifNull": ["$expiresAt", None]}, *moments]}}}


async def reserve(db: Any, key: str, attempt: str, now: datetime,
                  rules: SecurityConfig) -> Attempts:
    """Take a login-attempt slot for `attempt` on the address hashed to `key`, creating its
    count on first use; where the count stands."""
    update = [*attempts.reserve_update(attempt, now, rules),
              _keep_until(now + rules.login_attempt_lease)]
    for _ in range(2):
        try:
            doc = await db[COLLECTION].find_one_and_update(
                {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:  # a concurrent first attempt created it: now it matches
            continue
        if doc is not None:
            return attempts.state_of(doc, attempt, now, rules)
        # A racing upsert may answer no document (the embedded database): the update is
        # idempotent for one attempt id, so asking again is safe.
    doc = await db[COLLECTION].find_one({"_id": key})
    return attempts.state_of(doc or {}, attempt, now, rules)


async def fail(db: Any, key: str, attempt: str, now: datetime,
               rules: SecurityConfig) -> Attempts:
    """Settle `attempt` as a failure, locking at the limit, as for an account."""
    update = [*attempts.fail_update(attempt, now, rules),
              _keep_until(now + rules.failed_login_ttl, "$lockUntil")]
    doc = await db[COLLECTION].find_one_and_update(
        {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER)
    return attempts.state_of(doc or {}, attempt, now, rules, failed=True)


async def release(db: Any, key: str, attempt: str) -> None:
    """Give `attempt`'s slot back uncounted (the request died before settling)."""
    await db[COLLECTION].update_one({"_id": key}, attempts.release_update(attempt))
