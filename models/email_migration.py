"""Migration 1, "canonical emails", of the `users` collection: every stored address rewritten
to its canonical form (server/core/emails.py) and the old collated unique index dropped.

Two accounts whose addresses have one canonical form (`Ada@x` and `ada@x`, or a fullwidth
spelling) are never merged: both documents stay as they are and the collision is reported
(user ids only, never addresses) for an operator to settle; `run.py migrate` lists them and
runs the pass again, so once one account is changed or deleted the other is rewritten. An
address the rules refuse (a quoted local part, `@localhost`, an IDN in Unicode form) is
reported the same way: its account cannot sign in until an admin gives it a new address.

The pass is safe to run again and alongside the service: each rewrite is one conditional
update of one document, and the unique index refuses a canonical address that someone
took meanwhile (then reported as a collision).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pymongo.errors import DuplicateKeyError

from server.core.emails import InvalidEmail, canonical_email

LOG = logging.getLogger("gatehouse.migrations")
COLLECTION = "users"
# The index this migration replaces: unique under a case-insensitive collation (en, strength
# 2) that disagreed with the lookups; users.INDEXES builds `email_canonical` in its place.
LEGACY_INDEX = "email_unique"


@dataclass(frozen=True, slots=True)
class Report:
    """What one pass did and what it left for an operator."""

    rewritten: int = 0
    collisions: tuple[tuple[str, ...], ...] = ()  # user ids sharing one canonical address
    refused: tuple[str, ...] = ()  # user ids whose address has no canonical form

    @property
    def clean(self) -> bool:
        return not self.collisions and not self.refused


async def canonicalise(db: Any) -> Report:
    """Rewrite every stored email that is not in its canonical form, unless another account
    has or would get the same canonical address (a collision: all of them are left alone).
    Reads every user's email once; keeps only the non-canonical ones in memory."""
    pending: dict[str, list[tuple[Any, str]]] = {}
    refused: list[str] = []
    async for doc in db[COLLECTION].find({}, {"email": 1}):
        stored = doc.get("email")
        try:
            key = canonical_email(stored)
        except InvalidEmail:
            refused.append(str(doc["_id"]))
            continue
        if key != stored:
            pending.setdefault(key, []).append((doc["_id"], stored))
    rewritten, collisions = 0, []
    for key, docs in sorted(pending.items()):
        changed, clash = await _rewrite(db, key, docs)
        rewritten += changed
        if clash:
            collisions.append(clash)
    return Report(rewritten, tuple(collisions), tuple(sorted(refused)))


async def _rewrite(db: Any, key: str,
                   docs: list[tuple[Any, str]]) -> tuple[int, tuple[str, ...]]:
    """Give the one document of `docs` the address `key`: (documents changed, ()); or, when
    `key` is not for it alone, (0, the ids of the collision) with nothing changed."""
    holder = await db[COLLECTION].find_one({"email": key}, {"_id": 1})
    ids = [oid for oid, _ in docs] + ([holder["_id"]] if holder else [])
    if len(ids) == 1:
        [(oid, stored)] = docs
        try:
            # Conditional on the address read: a change made meanwhile is not overwritten.
            result = await db[COLLECTION].update_one({"_id": oid, "email": stored},
                                                     {"$set": {"email": key}})
        except DuplicateKeyError:  # someone took `key` since we looked
            holder = await db[COLLECTION].find_one({"email": key}, {"_id": 1})
            ids += [holder["_id"]] if holder else []
        else:
            return result.modified_count, ()
    return 0, tuple(sorted(str(oid) for oid in ids))


async def drop_legacy_index(db: Any) -> bool:
    """Drop the collated unique index if it is there; True when it was."""
    if LEGACY_INDEX not in await db[COLLECTION].index_information():
        return False
    await db[COLLECTION].drop_index(LEGACY_INDEX)
    return True


def log_report(report: Report) -> None:
    """One line for the pass, one warning per account an operator must look at."""
    for ids in report.collisions:
        LOG.warning("stored emails share one canonical form; left unchanged", extra={
            "fields": {"event": "email_collision", "userIds": list(ids)}})
    for user_id in report.refused:
        LOG.warning("stored email has no canonical form; left unchanged", extra={
            "fields": {"event": "email_refused", "userId": user_id}})
    LOG.info("stored emails made canonical", extra={"fields": {
        "event": "emails_canonical", "rewritten": report.rewritten,
        "collisions": len(report.collisions), "refused": len(report.refused)}})


async def migrate(db: Any) -> None:
    """The migration: the pass (collisions logged), then the old index goes, so the schema
    step builds the new one right after. Safe to run again."""
    report = await canonicalise(db)
    log_report(report)
    await drop_legacy_index(db)
