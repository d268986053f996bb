"""The live-session list on a user document: add a session under the cap (numbered, so its
slot in the sessions collection is known), remove sessions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from models.attempts import read_fields
from models.filters import same
from models.user_credentials import BUMP_VERSION, at_version
from models.users import COLLECTION, User, object_id


@dataclass(frozen=True, slots=True)
class SessionAdded:
    user: User  # as it is after the update
    serial: int  # how many sessions the user started before this one


async def add_session(db: Any, user_id: str, session_id: str, max_sessions: int,
                      now: datetime, *, login: bool = False, new_hash: str | None = None,
                      attempt: str | None = None, version: int | None = None,
                      seen: User | None = None,
                      as_read: Mapping[str, Any] | None = None) -> SessionAdded | None:
    """Register a live session, keeping the newest `max_sessions`, and number it. With
    `login`, also reset the failure count, settle the login `attempt` and stamp lastLogin;
    `new_hash` upgrades the stored password hash. With `version`, only while the user's
    credentialVersion is still that one (models/user_credentials.py). None when the user
    does not exist or its credentials changed since `version` was read.

    `seen` is the user as the caller read it: if the document has not changed since, one
    update keyed by `_id` does it (a point lookup on every database; the embedded one scans
    the collection for a findAndModify), and the result is `seen` plus this change.

    `as_read` (with `seen`): the lockout fields a login read with `seen` before checking the
    password without an attempt slot. Then only that one update is tried, also conditional
    on those fields: None when anything changed (the caller takes a slot and comes back)."""
    changes: dict[str, Any] = {}
    if login:
        changes = {"loginAttempts": 0, "lockUntil": None, "lastLogin": now}
        if new_hash:
            changes["password"] = new_hash
    update: dict[str, Any] = {
        "$push": {"activeSessions": {"$each": [session_id], "$slice": -max_sessions}},
        "$inc": {"sessionSerial": 1}}
    if changes:
        update["$set"] = changes
    if attempt is not None:
        update["$pull"] = {"loginPending": {"id": attempt}}
    query: dict[str, Any] = {"_id": object_id(user_id)}
    if version is not None:
        query["credentialVersion"] = at_version(version)
    if seen is not None:
        added = await _add_unchanged(db, query, update, seen, session_id, max_sessions,
                                     changes, as_read or {})
        if added is not None or as_read is not None:
            return added
    # The serial comes from the document AFTER this atomic update: the embedded test database
    # may return an earlier state as BEFORE under concurrency, but its AFTER is exact.
    after = await db[COLLECTION].find_one_and_update(
        query, update, return_document=ReturnDocument.AFTER)
    if after is None:
        return None
    return SessionAdded(User.from_doc(after), int(after["sessionSerial"]) - 1)


async def _add_unchanged(db: Any, query: dict[str, Any], update: dict[str, Any], seen: User,
                         session_id: str, max_sessions: int, changes: dict[str, Any],
                         lockout: Mapping[str, Any]) -> SessionAdded | None:
    """The update, only while the document still holds what `seen` read (same serial, same
    session list, same updatedAt: no profile write in between; `lockout` as read, if given);
    None if it does not."""
    # models/filters.py's form: the embedded database plans it without an index walk.
    condition = {**query, "sessionSerial": at_version(seen.session_serial),
                 "activeSessions": same(list(seen.active_sessions)),
                 "updatedAt": same(seen.updated_at), **read_fields(lockout)}
    result = await db[COLLECTION].update_one(condition, update)
    if not result.modified_count:
        return None
    kept = (*seen.active_sessions, session_id)[-max_sessions:]
    after = replace(seen, active_sessions=kept, session_serial=seen.session_serial + 1,
                    login_attempts=changes.get("loginAttempts", seen.login_attempts),
                    lock_until=changes.get("lockUntil", seen.lock_until),
                    last_login=changes.get("lastLogin", seen.last_login),
                    password_hash=changes.get("password", seen.password_hash))
    return SessionAdded(after, seen.session_serial)


async def remove_sessions(db: Any, user_id: str, session_ids: Sequence[str] | None = None,
                          *, keep: str | None = None) -> None:
    """Forget live sessions: the given ids, or all of them (but `keep`) when ids is None.
    Their access tokens are refused from the next request on. Ending all of them also
    bumps credentialVersion, so a login or refresh in flight cannot add a session after."""
    oid = object_id(user_id)
    if session_ids is not None:
        update: dict[str, Any] = {"$pull": {"activeSessions": {"$in": list(session_ids)}}}
    elif keep is not None:
        update = {"$pull": {"activeSessions": {"$ne": keep}}, "$inc": BUMP_VERSION}
    else:
        update = {"$set": {"activeSessions": []}, "$inc": BUMP_VERSION}
    await db[COLLECTION].update_one({"_id": oid}, update)
