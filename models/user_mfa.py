"""A user's second factors, in the `mfa` subdocument of the users collection.

On the user document, so that login and GET /users/me know them from the read they do
anyway (models/users.py exposes only `mfa_totp` and `recovery_codes_left`, never a secret):
  totpSecret     the confirmed TOTP secret, encrypted (server/services/totp_codes.py), or null;
  totpLastStep   the last time step a code was accepted for (a code is accepted once);
  pendingSecret  a secret handed out by setup, not yet confirmed (encrypted), or null;
  pendingAt      when setup handed it out (confirm refuses an old one);
  recoveryCodes  SHA-256 hashes of the unused recovery codes (a used one is pulled out);
  totpEnabledAt.
And `sessionAuth` {<session id>: {amr, at}}: how and when a session authenticated, when
that was more than a password (server/services/auth_context.py).
`clear_all` (an admin's reset) removes the whole subdocument in one write, whatever a factor
keeps there (passkeys included), so it stays right as factors are added.
Every write that consumes something (a step, a code, the pending secret) is one conditional
update, so two requests racing with the same code cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from models.users import COLLECTION, object_id

_F = "mfa."  # the subdocument's prefix in queries and updates


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


async def find(db: Any, user_id: str) -> Factors:
    """The user's factors (none set when there is no document)."""
    found = await db[COLLECTION].find_one({"_id": object_id(user_id)}, {"mfa": 1})
    doc = (found or {}).get("mfa")
    if not doc:
        return Factors()
    return Factors(totp_secret=doc.get("totpSecret"),
                   totp_last_step=int(doc.get("totpLastStep", -1)),
                   pending_secret=doc.get("pendingSecret"), pending_at=doc.get("pendingAt"),
                   recovery_left=len(doc.get("recoveryCodes") or ()))


async def set_pending(db: Any, user_id: str, secret: str, now: datetime) -> bool:
    """Store a secret waiting for its confirmation (replacing an older one), only while no
    TOTP is active. False when one is (or the user is gone)."""
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), _F + "totpSecret": None},
        {"$set": {_F + "pendingSecret": secret, _F + "pendingAt": now}})
    return bool(result.matched_count)


async def activate(db: Any, user_id: str, pending: str, step: int, code_hashes: list[str],
                   now: datetime) -> bool:
    """Make the pending secret `pending` the active one, marking `step` used, with fresh
    recovery codes. False when it is no longer the pending secret (a racing confirm or
    setup won)."""
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), _F + "pendingSecret": pending, _F + "totpSecret": None},
        {"$set": {_F + "totpSecret": pending, _F + "totpLastStep": step,
                  _F + "pendingSecret": None, _F + "pendingAt": None,
                  _F + "recoveryCodes": code_hashes, _F + "totpEnabledAt": now,
                  "updatedAt": now}})
    return bool(result.modified_count)


async def use_step(db: Any, user_id: str, secret: str, step: int) -> bool:
    """Mark time step `step` used for the active secret `secret`, only if no later or equal
    step was: False means a replay (or the factor changed). updatedAt is left alone: a login
    completing with this code adds its session with the one-update path of user_sessions."""
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), _F + "totpSecret": secret,
         _F + "totpLastStep": {"$lt": step}},
        {"$set": {_F + "totpLastStep": step}})
    return bool(result.modified_count)


async def use_recovery_code(db: Any, user_id: str, code_hash: str) -> int | None:
    """Pull one unused recovery code out (single use under any concurrency); the number of
    codes left, or None when it was not an unused code."""
    doc = await db[COLLECTION].find_one_and_update(
        {"_id": object_id(user_id), _F + "recoveryCodes": code_hash,
         _F + "totpSecret": {"$ne": None}},
        {"$pull": {_F + "recoveryCodes": code_hash}}, projection={"mfa.recoveryCodes": 1},
        return_document=ReturnDocument.AFTER)
    return None if doc is None else len((doc.get("mfa") or {}).get("recoveryCodes") or ())


async def replace_recovery_codes(db: Any, user_id: str, code_hashes: list[str],
                                 now: datetime) -> bool:
    """Replace every recovery code (the old ones stop working); False without a TOTP."""
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), _F + "totpSecret": {"$ne": None}},
        {"$set": {_F + "recoveryCodes": code_hashes, "updatedAt": now}})
    return bool(result.matched_count)


async def remove_totp(db: Any, user_id: str, secret: str, now: datetime) -> bool:
    """Remove the active TOTP `secret` and the recovery codes; False when it changed."""
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), _F + "totpSecret": secret},
        {"$set": {_F + "totpSecret": None, _F + "totpLastStep": -1, _F + "recoveryCodes": [],
                  _F + "totpEnabledAt": None, "updatedAt": now}})
    return bool(result.modified_count)


# Keys of the subdocument that are not a factor by themselves (`had_factor`).
_BOOKKEEPING = frozenset({"totpLastStep", "pendingSecret", "pendingAt", "totpEnabledAt",
                          "recoveryCodes"})


async def clear_all(db: Any, user_id: str, now: datetime) -> dict[str, Any] | None:
    """Remove every second factor of the user in ONE write: the whole `mfa` subdocument
    (TOTP, a pending setup, recovery codes, passkeys and anything else kept there). What
    the subdocument held before, or None when there was none (or no such user). The write
    is conditional on the subdocument being there, so of racing calls exactly one gets it."""
    before = await db[COLLECTION].find_one_and_update(
        {"_id": object_id(user_id), "mfa": {"$exists": True}},
        {"$unset": {"mfa": ""}, "$set": {"updatedAt": now}},
        projection={"mfa": 1}, return_document=ReturnDocument.BEFORE)
    return None if before is None else dict(before.get("mfa") or {})


def had_factor(mfa: dict[str, Any]) -> bool:
    """Whether an `mfa` subdocument (as clear_all returns it) held an active factor: a
    TOTP secret, or any other non-empty entry (a later factor's, such as passkeys)."""
    return mfa.get("totpSecret") is not None or any(
        value for key, value in mfa.items() if key not in _BOOKKEEPING | {"totpSecret"})


async def record_session_auth(db: Any, user_id: str, session_id: str, amr: list[str],
                              at: datetime, stale: list[str]) -> None:
    """Record how session `session_id` authenticated (`sessionAuth.<sid>`: amr, at) and drop
    the records of ended sessions `stale` in the same write. Only sign-ins with more than a
    password, and re-authentications, are recorded: a password sign-in is the default."""
    update: dict[str, Any] = {"$set": {f"sessionAuth.{session_id}": {"amr": amr, "at": at}}}
    if stale:
        update["$unset"] = {f"sessionAuth.{sid}": "" for sid in stale}
    await db[COLLECTION].update_one({"_id": object_id(user_id)}, update)
