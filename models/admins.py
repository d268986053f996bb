"""Queries on the `users` collection that concern admins: promotion and the last-admin guard.

The guard makes "remove an active admin only while another one stays" atomic without a
multi-document transaction (a standalone MongoDB, and the embedded database, have none).
A removal first *claims* its target: `adminRemoval: {claim, until}` set on the target's own
document, only while the target is an active admin that no live removal has claimed. Then
it looks for another active admin with no claim; only if it finds one does it commit, with
a write conditional on still holding its claim (which also clears it). Two removals that
race each claim before they look, so whichever looks second sees the first one's claim (or
its result) and never counts that admin: at most one of them can pass (Dekker's flags).

A claim outlives a crashed removal only until `until`; clearing an expired claim also voids
that removal's commit (its claim is gone), so a stalled removal can never pass late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from models.users import COLLECTION, User, object_id
from server.core.errors import EmailTaken

FIELD = "adminRemoval"
ACTIVE_ADMIN: dict[str, Any] = {"role": "admin", "isActive": True}
# Matches a document that is NOT an active admin: a write under this filter never removes one.
NOT_ACTIVE_ADMIN: dict[str, Any] = {"$nor": [ACTIVE_ADMIN]}
_UNCLAIMED: dict[str, Any] = {FIELD: None}


async def promote(db: Any, user_id: str, now: datetime) -> User | None:
    """Make a verified, active user an admin. None when the user is gone, deactivated or
    unverified (the filter holds the rule, so a concurrent change cannot slip past it)."""
    doc = await db[COLLECTION].find_one_and_update(
        {"_id": object_id(user_id), "isActive": True, "isEmailVerified": True},
        {"$set": {"role": "admin", "updatedAt": now}}, return_document=ReturnDocument.AFTER)
    return User.from_doc(doc) if doc else None


class Claimed(Enum):
    YES = "yes"  # this removal now holds the claim
    NOT_ADMIN = "not_admin"  # the target is not an active admin: no guard needed
    HELD = "held"  # another live removal holds the claim
    GONE = "gone"  # no such user


async def claim(db: Any, user_id: str, token: str, now: datetime,
                lease: timedelta) -> Claimed:
    """Claim the removal of the active admin `user_id` (see the module docstring)."""
    oid = object_id(user_id)
    free = {"$or": [_UNCLAIMED, {f"{FIELD}.until": {"$lte": now}}]}
    result = await db[COLLECTION].update_one(
        {"_id": oid, **ACTIVE_ADMIN, **free},
        {"$set": {FIELD: {"claim": token, "until": now + lease}}})
    if result.modified_count:
        return Claimed.YES
    doc = await db[COLLECTION].find_one({"_id": oid}, {"role": 1, "isActive": 1})
    if doc is None:
        return Claimed.GONE
    if doc.get("role") != "admin" or doc.get("isActive") is not True:
        return Claimed.NOT_ADMIN
    return Claimed.HELD


@dataclass(frozen=True, slots=True)
class Others:
    """What a claimant sees of the other active admins."""

    free: bool  # one with no claim exists: the removal may commit
    oldest_claim: str | None  # else the smallest claim among them (None: there are none)


async def others(db: Any, user_id: str, now: datetime) -> Others:
    """The other active admins as the claimant of `user_id` must judge them."""
    users = db[COLLECTION]
    await users.update_many({**ACTIVE_ADMIN, f"{FIELD}.until": {"$lte": now}},
                            {"$set": {FIELD: None}})
    not_me = {"_id": {"$ne": object_id(user_id)}, **ACTIVE_ADMIN}
    if await users.find_one({**not_me, **_UNCLAIMED}, {"_id": 1}) is not None:
        return Others(free=True, oldest_claim=None)
    doc = await users.find_one({**not_me, f"{FIELD}.claim": {"$type": "string"}},
                               {FIELD: 1}, sort=[(f"{FIELD}.claim", ASCENDING)])
    return Others(free=False, oldest_claim=doc[FIELD]["claim"] if doc else None)


async def claim_alive(db: Any, token: str) -> bool:
    """Whether a claim is still held (its removal has not committed or given up yet)."""
    return await db[COLLECTION].find_one({f"{FIELD}.claim": token}, {"_id": 1}) is not None


async def release(db: Any, user_id: str, token: str) -> None:
    """Give a claim up (the removal did not happen)."""
    await db[COLLECTION].update_one({"_id": object_id(user_id), f"{FIELD}.claim": token},
                                    {"$set": {FIELD: None}})


async def update(db: Any, user_id: str, fields: dict[str, Any], now: datetime, *,
                 token: str | None) -> User | None:
    """Set `fields` under the guard: with `token`, only while that claim is held (and clear
    it); without, only while the user is not an active admin. None when that does not hold
    (or the user is gone). Raises EmailTaken for someone else's email."""
    where = {f"{FIELD}.claim": token} if token else NOT_ACTIVE_ADMIN
    changes = {**fields, FIELD: None} if token else dict(fields)
    try:
        doc = await db[COLLECTION].find_one_and_update(
            {"_id": object_id(user_id), **where}, {"$set": {**changes, "updatedAt": now}},
            return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:
        raise EmailTaken() from None
    return User.from_doc(doc) if doc else None


async def delete(db: Any, user_id: str, *, token: str | None) -> bool:
    """Delete the user under the guard (as `update`); True if it was deleted."""
    where = {f"{FIELD}.claim": token} if token else NOT_ACTIVE_ADMIN
    result = await db[COLLECTION].delete_one({"_id": object_id(user_id), **where})
    return bool(result.deleted_count)
