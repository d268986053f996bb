"""The `users` collection: indexes and every query on it (the document's shape and the User
record are in models/user_doc.py).

A user document also lists the ids of its live sessions (`activeSessions`, newest last,
capped at security.max_sessions), so authenticating a request is ONE indexed find_one by
`_id` that both proves the session is live and loads the user (see find_by_session).
`credentialVersion`: see models/user_credentials.py.
`sessionSerial` counts the sessions ever started: the n-th one (from 0) stores its document
in slot n % max_sessions (models/sessions.py), the slot of the session its start pushed out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId as BsonInvalidId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from models import attempts
from models.attempts import Attempts
from models.user_doc import DEFAULT_PREFERENCES as DEFAULT_PREFERENCES  # re-exported
from models.user_doc import User as User  # re-exported
from models.user_doc import new_user_doc as new_user_doc  # re-exported
from server.core.config import SecurityConfig
from server.core.emails import canonical_email
from server.core.errors import EmailTaken
from server.core.roles import ROLES as ROLES  # re-exported: one list (server/core/roles.py)

COLLECTION = "users"
# The fields holding a mailed link's token hash (an outbox guard names one of them).
VERIFICATION_TOKEN, RESET_TOKEN = "emailVerificationToken", "passwordResetToken"
PENDING_EMAIL_TOKEN = "pendingEmailToken"  # noqa: S105 - a field name (email change link)

INDEXES = [
    # Emails are stored in their canonical form (server/core/emails.py) and compared as
    # plain strings: the collated index this replaces ("email_unique", en/strength 2, dropped
    # by migration 1) held `straße` equal to `strasse` and fullwidth `ada` equal to ASCII
    # `ada`, which the lookups did not, so the index and the lookups disagreed on who is who.
    IndexModel([("email", ASCENDING)], name="email_canonical", unique=True),
    IndexModel([("emailVerificationToken", ASCENDING)], name="verification_token",
               partialFilterExpression={"emailVerificationToken": {"$type": "string"}}),
    IndexModel([("passwordResetToken", ASCENDING)], name="reset_token",
               partialFilterExpression={"passwordResetToken": {"$type": "string"}}),
    IndexModel([("pendingEmailToken", ASCENDING)], name="pending_email_token",
               partialFilterExpression={"pendingEmailToken": {"$type": "string"}}),
    # Admin listing (GET /users): one index per whitelisted sort (LISTING_SORTS), each ending
    # in _id so equal keys still page stably; MongoDB walks them backwards for `-field`.
    IndexModel([("createdAt", DESCENDING), ("_id", DESCENDING)], name="list_created_at"),
    IndexModel([("role", ASCENDING), ("createdAt", DESCENDING), ("_id", DESCENDING)],
               name="list_role_created_at"),
    IndexModel([("isActive", ASCENDING), ("createdAt", DESCENDING), ("_id", DESCENDING)],
               name="list_active_created_at"),
    IndexModel([("lastName", ASCENDING), ("firstName", ASCENDING), ("_id", ASCENDING)],
               name="list_last_name"),
    IndexModel([("firstName", ASCENDING), ("lastName", ASCENDING), ("_id", ASCENDING)],
               name="list_first_name"),
]


def object_id(user_id: str | ObjectId) -> ObjectId | None:
    """The ObjectId of a 24-hex id string, or None when it is not one."""
    if isinstance(user_id, ObjectId):
        return user_id
    try:
        return ObjectId(user_id)
    except (BsonInvalidId, TypeError):
        return None


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)


def _maybe(doc: Mapping[str, Any] | None) -> User | None:
    return User.from_doc(doc) if doc else None


async def insert_user(db: Any, doc: dict[str, Any]) -> User:
    """Insert a new user document. Raises EmailTaken (409) when the email exists."""
    try:
        result = await db[COLLECTION].insert_one(doc)
    except DuplicateKeyError:
        raise EmailTaken() from None
    return User.from_doc({**doc, "_id": result.inserted_id})


async def find_by_id(db: Any, user_id: str | ObjectId) -> User | None:
    oid = object_id(user_id)
    return _maybe(await db[COLLECTION].find_one({"_id": oid})) if oid else None


async def find_by_email(db: Any, email: str) -> User | None:
    return _maybe(await db[COLLECTION].find_one({"email": canonical_email(email)}))


async def find_signed_in(db: Any, user_id: str) -> User | None:
    """The user by `_id` alone: every database runs that on the _id index (a filter on the
    session list too may be a scan). No projection: on the embedded database one costs more
    database CPU than the whole lookup (measured 0.28 ms plain, 0.43 ms excluding the link
    hashes, 0.6 ms listing the fields), and the hashes never leave the model layer (User
    does not hold them). None when there is no such user."""
    oid = object_id(user_id)
    if oid is None:
        return None
    return _maybe(await db[COLLECTION].find_one({"_id": oid}))


async def find_by_session(db: Any, user_id: str, session_id: str) -> User | None:
    """The active user owning the live session `session_id`, in one lookup; None when the
    user is gone or deactivated or the session has ended."""
    user = await find_signed_in(db, user_id)
    if user is None or not user.is_active or session_id not in user.active_sessions:
        return None
    return user


RESERVE_TRIES = 8  # conditional writes lost to racing attempts before the atomic pipeline


@dataclass(frozen=True, slots=True)
class LoginRead:
    """A user as a login read it, with the lockout fields of that read (models/attempts.py):
    a later write conditional on them lands only if no attempt touched the account since."""

    user: User
    lockout: Mapping[str, Any]

    def with_lockout(self, changes: Mapping[str, Any]) -> LoginRead:
        after = {**self.lockout, **changes}
        return LoginRead(replace(self.user, login_attempts=after.get("loginAttempts") or 0,
                                 lock_until=after.get("lockUntil")), after)


async def read_for_login(db: Any, email: str) -> LoginRead | None:
    """The user of `email` and its lockout fields (one find); None for an unknown email."""
    doc = await db[COLLECTION].find_one({"email": canonical_email(email)})
    return None if doc is None else LoginRead(User.from_doc(doc), attempts.lockout_of(doc))


async def reserve_login_attempt(db: Any, email: str, attempt: str, now: datetime,
                                rules: SecurityConfig, *, read: LoginRead | None = None
                                ) -> tuple[User, Attempts] | None:
    """Take a login-attempt slot for `attempt` if one is free (models/attempts.py); the user
    and where its count stands, or None for an unknown email. A read (or `read`, made just
    before), then (if anything changes) a write conditional on the fields read: two cheap
    commands on every database. Attempts racing on one account make that write miss; after a
    few misses the atomic pipeline update does it in one step."""
    for _ in range(RESERVE_TRIES):
        if read is None:
            read = await read_for_login(db, email)
            if read is None:
                return None
        changes = attempts.reserve_fields(read.lockout, attempt, now, rules)
        if changes:
            written = await db[COLLECTION].update_one(
                {"_id": object_id(read.user.id), **attempts.read_fields(read.lockout)},
                {"$set": changes})
            if not written.modified_count:
                read = None
                continue
            read = read.with_lockout(changes)
        return read.user, attempts.state_of(read.lockout, attempt, now, rules)
    doc = await db[COLLECTION].find_one_and_update(
        {"email": canonical_email(email)}, attempts.reserve_update(attempt, now, rules),
        return_document=ReturnDocument.AFTER)
    return None if doc is None else (User.from_doc(doc),
                                     attempts.state_of(doc, attempt, now, rules))


async def fail_login_attempt(db: Any, user_id: str, attempt: str, now: datetime,
                             rules: SecurityConfig) -> Attempts:
    """Settle `attempt` as a failed password check, locking at the limit (one update)."""
    doc = await db[COLLECTION].find_one_and_update(
        {"_id": object_id(user_id)}, attempts.fail_update(attempt, now, rules),
        return_document=ReturnDocument.AFTER)
    return attempts.state_of(doc or {}, attempt, now, rules, failed=True)


async def release_login_attempt(db: Any, email: str, attempt: str, *,
                                forget: bool = False) -> None:
    """Give `attempt`'s slot back uncounted (the request died, or the right password met a
    deactivated account: then `forget` also zeroes the failures)."""
    await db[COLLECTION].update_one({"email": canonical_email(email)},
                                    attempts.release_update(attempt, forget=forget))


async def holds_token(db: Any, field_name: str, token_hash: str) -> bool:
    """Whether some user's `field_name` (a *_TOKEN field above) holds this hash."""
    if field_name not in (VERIFICATION_TOKEN, RESET_TOKEN, PENDING_EMAIL_TOKEN):
        return False
    doc = await db[COLLECTION].find_one({field_name: token_hash}, {"_id": 1})
    return doc is not None


async def set_verification_token(db: Any, user_id: str, token_hash: str,
                                 expires: datetime) -> None:
    """Store the hash of a new verification token; any older link stops working."""
    await db[COLLECTION].update_one(
        {"_id": object_id(user_id)},
        {"$set": {"emailVerificationToken": token_hash, "emailVerificationExpires": expires}})


async def verify_email(db: Any, token_hash: str, now: datetime) -> User | None:
    """Mark the owner of a live verification token verified and burn the token (single use).
    None when no unexpired token has this hash."""
    doc = await db[COLLECTION].find_one_and_update(
        {"emailVerificationToken": token_hash, "emailVerificationExpires": {"$gt": now}},
        {"$set": {"isEmailVerified": True, "emailVerificationToken": None,
                  "emailVerificationExpires": None, "updatedAt": now}},
        return_document=ReturnDocument.AFTER)
    return _maybe(doc)


async def set_reset_token(db: Any, email: str, token_hash: str,
                          expires: datetime) -> User | None:
    """Store a reset-token hash on the user with this email; None when there is none."""
    doc = await db[COLLECTION].find_one_and_update(
        {"email": canonical_email(email)},
        {"$set": {"passwordResetToken": token_hash, "passwordResetExpires": expires}},
        return_document=ReturnDocument.AFTER)
    return _maybe(doc)


async def update_fields(db: Any, user_id: str, fields: Mapping[str, Any],
                        now: datetime) -> User | None:
    """Set already-validated fields (document names; dotted paths allowed) and stamp
    updatedAt. None when the user is gone. Raises EmailTaken for someone else's email."""
    try:
        doc = await db[COLLECTION].find_one_and_update(
            {"_id": object_id(user_id)}, {"$set": {**fields, "updatedAt": now}},
            return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:
        raise EmailTaken() from None
    return _maybe(doc)


async def delete_user(db: Any, user_id: str) -> bool:
    """Remove the user document for good; True if there was one."""
    result = await db[COLLECTION].delete_one({"_id": object_id(user_id)})
    return bool(result.deleted_count)
