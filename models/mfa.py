"""The `mfa` collection: a user's second factors (TOTP secret, recovery-code hashes).

One document per user that ever started an enrolment, `_id` = the user's ObjectId:
  totpSecret     the confirmed TOTP secret, encrypted (server/security_mfa.py), or null;
  totpLastStep   the last time step a code was accepted for (a code is accepted once);
  pendingSecret  a secret handed out by setup, not yet confirmed (encrypted), or null;
  pendingAt      when setup handed it out (confirm refuses an old one);
  recoveryCodes  SHA-256 hashes of the unused recovery codes (a used one is pulled out);
  totpEnabledAt, updatedAt.
Every write that consumes something (a step, a code, the pending secret) is one conditional
update, so two requests racing with the same code cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from models.users import object_id

COLLECTION = "mfa"
INDEXES: list[Any] = []  # every query is by _id


@dataclass(frozen=True, slots=True)
class Factors:
    """A user's second factors, secrets still encrypted."""

    totp_secret: str | None = None
    totp_last_step: int = -1
    pending_secret: str | None = None
    pending_at: datetime | None = None
    recovery_left: int = 0

    @property
    def totp(self) -> bool:
        return self.totp_secret is not None

    @property
    def types(self) -> list[str]:
        """The factor types a sign-in may use, for `factors` in the login answer."""
        return ["totp", "recovery_code"] if self.totp else []


async def ensure_indexes(db: Any) -> None:
    if INDEXES:
        await db[COLLECTION].create_indexes(INDEXES)


async def find(db: Any, user_id: str) -> Factors:
    """The user's factors (none set when there is no document)."""
    doc = await db[COLLECTION].find_one({"_id": object_id(user_id)})
    if doc is None:
        return Factors()
    return Factors(totp_secret=doc.get("totpSecret"),
                   totp_last_step=int(doc.get("totpLastStep", -1)),
                   pending_secret=doc.get("pendingSecret"), pending_at=doc.get("pendingAt"),
                   recovery_left=len(doc.get("recoveryCodes") or ()))


async def set_pending(db: Any, user_id: str, secret: str, now: datetime) -> bool:
    """Store a secret waiting for its confirmation (replacing an older one), only while no
    TOTP is active. False when one is."""
    try:
        result = await db[COLLECTION].update_one(
            {"_id": object_id(user_id), "totpSecret": None},
            {"$set": {"pendingSecret": secret, "pendingAt": now, "updatedAt": now}},
            upsert=True)
    except DuplicateKeyError:  # the document exists with an active TOTP: no match, no insert
        return False
    return bool(result.matched_count or result.upserted_id is not None)


async def activate(db: Any, user_id: str, pending: str, step: int, code_hashes: list[str],
                   now: datetime) -> bool:
    """Make the pending secret `pending` the active one, marking `step` used, with fresh
    recovery codes. False when it is no longer the pending secret (a racing confirm or
    setup won)."""
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), "pendingSecret": pending, "totpSecret": None},
        {"$set": {"totpSecret": pending, "totpLastStep": step, "pendingSecret": None,
                  "pendingAt": None, "recoveryCodes": code_hashes, "totpEnabledAt": now,
                  "updatedAt": now}})
    return bool(result.modified_count)


async def use_step(db: Any, user_id: str, secret: str, step: int) -> bool:
    """Mark time step `step` used for the active secret `secret`, only if no later or equal
    step was: False means a replay (or the factor changed)."""
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), "totpSecret": secret, "totpLastStep": {"$lt": step}},
        {"$set": {"totpLastStep": step}})
    return bool(result.modified_count)


async def use_recovery_code(db: Any, user_id: str, code_hash: str) -> int | None:
    """Pull one unused recovery code out (single use under any concurrency); the number of
    codes left, or None when it was not an unused code."""
    doc = await db[COLLECTION].find_one_and_update(
        {"_id": object_id(user_id), "recoveryCodes": code_hash, "totpSecret": {"$ne": None}},
        {"$pull": {"recoveryCodes": code_hash}}, projection={"recoveryCodes": 1},
        return_document=ReturnDocument.AFTER)
    return None if doc is None else len(doc.get("recoveryCodes") or ())


async def replace_recovery_codes(db: Any, user_id: str, code_hashes: list[str],
                                 now: datetime) -> bool:
    """Replace every recovery code (the old ones stop working); False without a TOTP."""
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), "totpSecret": {"$ne": None}},
        {"$set": {"recoveryCodes": code_hashes, "updatedAt": now}})
    return bool(result.matched_count)


async def remove_totp(db: Any, user_id: str, secret: str, now: datetime) -> bool:
    """Remove the active TOTP `secret` and the recovery codes; False when it changed."""
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), "totpSecret": secret},
        {"$set": {"totpSecret": None, "totpLastStep": -1, "recoveryCodes": [],
                  "totpEnabledAt": None, "updatedAt": now}})
    return bool(result.modified_count)
