"""Failed-login accounting shared by the collections that count it (users, login_failures).

Fields on the counted document:
  loginAttempts  failures settled since the last success, lock end or forgetting;
  lockUntil      end of the running lock, or null;
  loginPending   [{id, until}]: password checks in flight, each holding one of the
                 security.max_login_attempts slots until it settles or its lease `until` ends
                 (so a request that died between reserving and settling frees its slot);
  loginFailedAt  the latest failure; failures are forgotten security.failed_login_ttl later.

A check may start only while failures + live reservations < max_login_attempts, so N
concurrent guesses get exactly that many checks; the lock is set by the failure that reaches
the limit, so checks in flight (right passwords among them) never lock an account.
Every phase is ONE atomic update (an aggregation-pipeline update, MongoDB >= 4.2). A
reservation may instead be computed here on a read document (reserve_fields) and written
with a filter on the fields it read (read_fields): the same result when nothing changed in
between, no write otherwise. The embedded database evaluates pipelines slowly (~10 ms).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.filters import unchanged
from server.core.config import SecurityConfig

_LOCK = {"$ifNull": ["$lockUntil", None]}


@dataclass(frozen=True, slots=True)
class Attempts:
    """Where a counted address stands after one update, seen by the attempt `attempt`."""

    failures: int
    lock_until: datetime | None
    granted: bool  # this attempt holds a slot: its password may be checked
    locked_now: bool = False  # this attempt's failure set the lock

    def locked_at(self, now: datetime) -> bool:
        return self.lock_until is not None and self.lock_until > now


def _locked(now: datetime) -> dict[str, Any]:
    return {"$gt": [_LOCK, now]}  # null sorts below every date


def reserve_update(attempt: str, now: datetime, rules: SecurityConfig) -> list[dict[str, Any]]:
    """Pipeline: drop expired leases, end an expired lock (a fresh count), forget old
    failures, then take a slot for `attempt` if one is free and no lock runs. Idempotent."""
    lock_over = {"$and": [{"$gt": [_LOCK, None]}, {"$lte": [_LOCK, now]}]}
    forgotten = {"$lte": [{"$ifNull": ["$loginFailedAt", None]}, now - rules.failed_login_ttl]}
    fresh = {"$and": [{"$not": [_locked(now)]}, {"$or": [lock_over, forgotten]}]}
    failures = {"$cond": [fresh, 0, {"$ifNull": ["$loginAttempts", 0]}]}
    # A count already at the limit without a running lock (the limit was lowered) locks now.
    overdue = {"$and": [{"$not": [fresh]}, {"$not": [_locked(now)]},
                        {"$gte": [failures, rules.max_login_attempts]}]}
    live = {"$filter": {"input": {"$ifNull": ["$loginPending", []]}, "as": "p",
                        "cond": {"$gt": ["$$p.until", now]}}}
    room = {"$and": [
        {"$not": [_locked(now)]},
        {"$lt": [{"$add": ["$loginAttempts", {"$size": "$loginPending"}]},
                 rules.max_login_attempts]},
        {"$not": [{"$in": [attempt, {"$map": {"input": "$loginPending", "as": "p",
                                              "in": "$$p.id"}}]}]}]}
    mine = [{"id": attempt, "until": now + rules.login_attempt_lease}]
    return [
        {"$set": {"loginAttempts": failures, "loginPending": live,
                  "lockUntil": {"$cond": [overdue, now + rules.lock_duration,
                                          {"$cond": [lock_over, None, _LOCK]}]}}},
        {"$set": {"loginPending": {"$cond": [room, {"$concatArrays": ["$loginPending", mine]},
                                             "$loginPending"]}}},
    ]


# The fields a reservation reads and writes: a conditional write filters on all of them.
RESERVATION_FIELDS = ("loginAttempts", "lockUntil", "loginPending", "loginFailedAt")


def lockout_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The reservation fields of a document as read (None for a missing one)."""
    return {name: doc.get(name) for name in RESERVATION_FIELDS}


def is_quiet(doc: Mapping[str, Any]) -> bool:
    """No failure counted, no lock, no check in flight: the state a login may check its
    password in before taking a slot (server/services/lockout.py check_before_slot)."""
    return not doc.get("loginAttempts") and doc.get("lockUntil") is None \
        and not doc.get("loginPending")


def read_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A filter matching a document whose reservation fields are still as in `doc` (None
    also matches a missing field); in models/filters.py's form, cheap to plan."""
    return unchanged({name: doc.get(name) for name in RESERVATION_FIELDS})


def reserve_fields(doc: Mapping[str, Any], attempt: str, now: datetime,
                   rules: SecurityConfig) -> dict[str, Any]:
    """What reserve_update would $set on `doc`, computed here (tests/models/
    test_attempts_mirror.py holds the two to the same answers): only the fields that change,
    {} when none does."""
    lock, failed_at = doc.get("lockUntil"), doc.get("loginFailedAt")
    locked = lock is not None and lock > now
    lock_over = lock is not None and lock <= now
    # Null sorts below every date in the pipeline's comparison: no failure yet is "forgotten".
    forgotten = failed_at is None or failed_at <= now - rules.failed_login_ttl
    fresh = not locked and (lock_over or forgotten)
    failures = 0 if fresh else int(doc.get("loginAttempts") or 0)
    overdue = not fresh and not locked and failures >= rules.max_login_attempts
    new_lock = now + rules.lock_duration if overdue else (None if lock_over else lock)
    live = [p for p in doc.get("loginPending") or () if p["until"] > now]
    room = (not (new_lock is not None and new_lock > now)
            and failures + len(live) < rules.max_login_attempts
            and all(p["id"] != attempt for p in live))
    if room:
        live.append({"id": attempt, "until": now + rules.login_attempt_lease})
    after = {"loginAttempts": failures, "lockUntil": new_lock, "loginPending": live}
    return {name: value for name, value in after.items() if doc.get(name) != value}


def fail_update(attempt: str, now: datetime, rules: SecurityConfig) -> list[dict[str, Any]]:
    """Pipeline: settle `attempt` as a failure (its slot becomes a counted failure); the
    failure that reaches the limit sets the lock in the same update."""
    mine_gone = {"$filter": {"input": {"$ifNull": ["$loginPending", []]}, "as": "p",
                             "cond": {"$ne": ["$$p.id", attempt]}}}
    reached = {"$and": [{"$not": [_locked(now)]},
                        {"$gte": ["$loginAttempts", rules.max_login_attempts]}]}
    return [
        {"$set": {"loginPending": mine_gone, "loginFailedAt": now,
                  "loginAttempts": {"$add": [{"$ifNull": ["$loginAttempts", 0]}, 1]}}},
        {"$set": {"lockUntil": {"$cond": [reached, now + rules.lock_duration, _LOCK]}}},
    ]


def release_update(attempt: str, *, forget: bool = False) -> dict[str, Any]:
    """Update: give `attempt`'s slot back uncounted; `forget` also zeroes the failures."""
    update: dict[str, Any] = {"$pull": {"loginPending": {"id": attempt}}}
    if forget:
        update["$set"] = {"loginAttempts": 0}
    return update


def state_of(doc: Mapping[str, Any], attempt: str, now: datetime, rules: SecurityConfig,
             *, failed: bool = False) -> Attempts:
    """The Attempts of `attempt` in a document as returned by reserve_update, or with
    `failed` by fail_update."""
    failures = int(doc.get("loginAttempts") or 0)
    lock_until = doc.get("lockUntil")
    locked = lock_until is not None and lock_until > now
    return Attempts(
        failures=failures, lock_until=lock_until,
        granted=any(p.get("id") == attempt for p in doc.get("loginPending") or ()),
        # Locks are set only by the failure whose count reaches the limit, exactly (a later
        # one finds the lock running and counts past it), so this names one request.
        locked_now=failed and locked and failures == rules.max_login_attempts)
