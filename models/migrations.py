"""The `schema` collection: a database's migrations and indexes, and the lease on changing them.

One document, `_id: "schema"`:
  version     the last migration applied (0: none)
  applied     [{version, name, at}], one entry per migration, in order
  indexes     fingerprint of the index definitions last built (None: never)
  indexRuns   how many times indexes were built (a marker for operators and tests)
  lease       {holder, until} while one process applies changes, else None

Only the lease holder writes `version`, `applied` and `indexes`, and every such write is
conditional on still holding the lease, so a change is recorded exactly once however many
workers and hosts start together. The lease has an expiry: a holder that crashed stops
blocking the others once it passes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

COLLECTION = "schema"
_ID = "schema"


@dataclass(frozen=True, slots=True)
class Migration:
    """One data change, applied once per database, in `version` order. `apply(db)` must be
    safe to run again: a holder that dies half-way leaves it unrecorded, and the next
    holder runs it from the start."""

    version: int
    name: str
    apply: Callable[[Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SchemaState:
    version: int
    indexes: str | None
    holder: str | None
    until: datetime | None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> SchemaState:
        doc = doc or {}
        lease = doc.get("lease") or {}
        return cls(version=int(doc.get("version", 0)), indexes=doc.get("indexes"),
                   holder=lease.get("holder"), until=lease.get("until"))


class LeaseLost(RuntimeError):
    """Another process took the lease (ours expired): stop changing the database."""


async def read(db: Any) -> SchemaState:
    """The database's schema state (version 0, no indexes when never prepared)."""
    return SchemaState.from_doc(await db[COLLECTION].find_one({"_id": _ID}))


async def acquire(db: Any, holder: str, now: datetime, ttl: timedelta) -> SchemaState | None:
    """Take the lease if it is free, expired or already ours; the state under it, or None
    when another live holder has it."""
    # Created apart, then taken with a plain conditional update: two processes upserting
    # the same new document at once is a race, one conditional update never is.
    with contextlib.suppress(DuplicateKeyError):
        await db[COLLECTION].insert_one({"_id": _ID, "version": 0, "applied": [],
                                         "indexes": None, "indexRuns": 0, "lease": None})
    doc = await db[COLLECTION].find_one_and_update(
        {"_id": _ID, "$or": [{"lease": None}, {"lease.until": {"$lte": now}},
                             {"lease.holder": holder}]},
        {"$set": {"lease": {"holder": holder, "until": now + ttl}}},
        return_document=ReturnDocument.AFTER)
    return None if doc is None else SchemaState.from_doc(doc)


async def renew(db: Any, holder: str, now: datetime, ttl: timedelta) -> None:
    """Push our lease's expiry forward. Raises LeaseLost when it is no longer ours."""
    await _as_holder(db, holder, {"$set": {"lease.until": now + ttl}})


async def record_migration(db: Any, holder: str, migration: Migration, now: datetime) -> None:
    """Mark `migration` applied. Raises LeaseLost when the lease is no longer ours."""
    await _as_holder(db, holder, {
        "$set": {"version": migration.version},
        "$push": {"applied": {"version": migration.version, "name": migration.name,
                              "at": now}}})


async def record_indexes(db: Any, holder: str, fingerprint: str, now: datetime) -> None:
    """Mark the indexes of `fingerprint` built. Raises LeaseLost when the lease is not ours."""
    await _as_holder(db, holder, {"$set": {"indexes": fingerprint, "indexedAt": now},
                                  "$inc": {"indexRuns": 1}})


async def release(db: Any, holder: str) -> None:
    """Give the lease up (a no-op when it is no longer ours)."""
    await db[COLLECTION].update_one({"_id": _ID, "lease.holder": holder},
                                    {"$set": {"lease": None}})


async def _as_holder(db: Any, holder: str, update: dict[str, Any]) -> None:
    result = await db[COLLECTION].update_one({"_id": _ID, "lease.holder": holder}, update)
    if result.matched_count != 1:
        raise LeaseLost(holder)
