"""The `webauthn_challenges` collection: passkey ceremonies handed out, waiting for an answer.

Document: {_id: SHA-256 of the challenge (the authenticator signs the challenge itself,
which is random, 32 bytes), purpose: register | mfa | passwordless | reauth, user: the
user id (register, mfa, reauth) or null, mfa: the hash of the mfaToken the ceremony belongs
to (mfa) or null, session: the session a step-up belongs to (reauth) or null (absent on
older documents, which a null in the filter matches), createdAt, expiresAt}. A challenge is
used once: `consume` deletes it with one conditional write, so of two answers carrying it
at most one goes on; a TTL index removes what nobody answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

COLLECTION = "webauthn_challenges"
INDEXES = [IndexModel([("expiresAt", ASCENDING)], name="expires_at", expireAfterSeconds=0)]
PURPOSES = ("register", "mfa", "passwordless", "reauth")


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)


async def insert(db: Any, challenge_hash: str, purpose: str, now: datetime, expires: datetime,
                 *, user_id: str | None = None, mfa_hash: str | None = None,
                 session_id: str | None = None) -> None:
    await db[COLLECTION].insert_one({"_id": challenge_hash, "purpose": purpose,
                                     "user": user_id, "mfa": mfa_hash, "session": session_id,
                                     "createdAt": now, "expiresAt": expires})


async def consume(db: Any, challenge_hash: str, purpose: str, now: datetime, *,
                  user_id: str | None = None, mfa_hash: str | None = None,
                  session_id: str | None = None) -> bool:
    """Use the challenge up: True for exactly one caller, only before it expires and only for
    the purpose, user, mfaToken and session it was handed out for."""
    result = await db[COLLECTION].delete_one({
        "_id": challenge_hash, "purpose": purpose, "user": user_id, "mfa": mfa_hash,
        "session": session_id, "expiresAt": {"$gt": now}})
    return bool(result.deleted_count)
