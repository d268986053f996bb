"""Credential changes on the `users` collection: password set or reset, deactivation,
email change.

`credentialVersion` counts the changes that invalidate what a login checked (password set or
reset, deactivation, every session ended). Each such update increments it in the same write
that ends the sessions, and a login or refresh adds its session only with a filter on the
version it read before bcrypt (models/user_sessions.add_session), so a change that commits
during the hash is never undone by a late session. Likewise a signed-in change is written
only while the version it was checked against is current and its session still live.
Documents written before the field existed read as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from models.filters import one_of, same
from models.users import COLLECTION, User, object_id
from server.core.errors import EmailTaken


def at_version(version: int) -> Any:
    """The filter value matching `credentialVersion == version` (0 also matches a document
    from before the field existed; $inc on a missing field starts it at 1)."""
    return one_of([0, None]) if version == 0 else same(version)


# One $inc of this in an update ends what any login in flight checked (see the docstring).
BUMP_VERSION = {"credentialVersion": 1}
# Outstanding mailed links: a reset, a verification of the current address, a pending
# email change. A password change or an email change voids all of them.
NO_MAILED_LINKS: dict[str, Any] = {
    "passwordResetToken": None, "passwordResetExpires": None,
    "emailVerificationToken": None, "emailVerificationExpires": None,
    "pendingEmail": None, "pendingEmailToken": None, "pendingEmailExpires": None}


def _current(user: User, session_id: str | None = None) -> dict[str, Any]:
    """The filter `user` as checked: same version (and, given one, `session_id` still live)."""
    query: dict[str, Any] = {"_id": object_id(user.id),
                             "credentialVersion": at_version(user.credential_version)}
    if session_id is not None:
        query["activeSessions"] = session_id
    return query


async def set_password(db: Any, user: User, password_hash: str, keep_session: str,
                       now: datetime) -> bool:
    """Store a new password hash, void every mailed link, end every session but
    `keep_session` and bump the version, in one write. False when the credentials or that
    session changed since `user` was read (nothing is written then)."""
    result = await db[COLLECTION].update_one(
        _current(user, keep_session),
        {"$set": {"password": password_hash, **NO_MAILED_LINKS, "updatedAt": now},
         "$pull": {"activeSessions": {"$ne": keep_session}}, "$inc": BUMP_VERSION})
    return bool(result.modified_count)


async def deactivate(db: Any, user: User, now: datetime) -> bool:
    """Deactivate `user`, end every session and bump the version, in one write. False when
    the credentials changed since `user` was read."""
    result = await db[COLLECTION].update_one(
        _current(user),
        {"$set": {"isActive": False, "activeSessions": [], "updatedAt": now},
         "$inc": BUMP_VERSION})
    return bool(result.modified_count)


async def request_email_change(db: Any, user: User, session_id: str | None,
                               fields: Mapping[str, Any], pending: str, token_hash: str,
                               expires: datetime, now: datetime) -> User | None:
    """Apply profile `fields` and record `pending` as the address to switch to once the link
    whose hash is `token_hash` is followed; every older mailed link stops working. The
    sign-in email does not change. None when the credentials or the session changed since
    `user` was read."""
    doc = await db[COLLECTION].find_one_and_update(
        _current(user, session_id),
        {"$set": {**fields, **NO_MAILED_LINKS, "pendingEmail": pending,
                  "pendingEmailToken": token_hash, "pendingEmailExpires": expires,
                  "updatedAt": now}},
        return_document=ReturnDocument.AFTER)
    return User.from_doc(doc) if doc else None


async def confirm_email_change(db: Any, token_hash: str, now: datetime) -> User | None:
    """Make the pending address of the live link `token_hash` the sign-in email (verified)
    and void every mailed link. Sessions live on: the change was asked for from one of them,
    with the password. None when no unexpired link has this hash. Raises EmailTaken when
    the address was registered meanwhile; the change is dropped then."""
    found = await db[COLLECTION].find_one(
        {"pendingEmailToken": token_hash, "pendingEmailExpires": {"$gt": now}},
        {"pendingEmail": 1})
    if found is None or not found.get("pendingEmail"):
        return None
    query = {"_id": found["_id"], "pendingEmailToken": token_hash}
    try:
        doc = await db[COLLECTION].find_one_and_update(
            query, {"$set": {"email": found["pendingEmail"], "isEmailVerified": True,
                             **NO_MAILED_LINKS, "updatedAt": now}},
            return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:
        # Someone registered the address after the change was asked for: drop the change
        # (the link is burnt) and keep the current email.
        await db[COLLECTION].update_one(
            query, {"$set": {"pendingEmail": None, "pendingEmailToken": None,
                             "pendingEmailExpires": None, "updatedAt": now}})
        raise EmailTaken() from None
    return User.from_doc(doc) if doc else None


async def reset_password(db: Any, token_hash: str, password_hash: str,
                         now: datetime) -> User | None:
    """Set a new password for the owner of a live reset token, burn the token, clear the lock,
    drop a pending email change and forget every session, in one atomic update that bumps
    credentialVersion. None when the token is unknown/expired."""
    doc = await db[COLLECTION].find_one_and_update(
        {"passwordResetToken": token_hash, "passwordResetExpires": {"$gt": now}},
        {"$set": {"password": password_hash, "passwordResetToken": None,
                  "passwordResetExpires": None, "pendingEmail": None,
                  "pendingEmailToken": None, "pendingEmailExpires": None,
                  "loginAttempts": 0, "lockUntil": None, "activeSessions": [],
                  "updatedAt": now},
         "$inc": BUMP_VERSION},
        return_document=ReturnDocument.AFTER)
    return User.from_doc(doc) if doc else None
