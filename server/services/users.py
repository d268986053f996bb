"""User flows: profile and email change, password change, deactivation, admin management.

The last-admin rule (no change may leave the service without an active admin, even under
races) is enforced by server/services/last_admin.py, through which every such write goes.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models import sessions, user_listing, users
from models.users import User
from server.core.config import Config
from server.core.errors import (
    CurrentPasswordIncorrect,
    EmailTaken,
    InvalidId,
    UserNotFound,
)
from server.observability.audit import Audit
from server.security import hash_password, verify_password
from server.services import last_admin
from server.services.auth import queue_verification
from server.services.sessions import end_all_sessions, end_sessions


@dataclass(frozen=True, slots=True)
class Page:
    """One page of an admin listing and where it sits in the whole."""

    users: list[User]
    page: int
    limit: int
    total: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.limit)


async def get_user(db: Any, user_id: str) -> User:
    """The user with this id. Raises InvalidId (not a 24-hex id) or UserNotFound."""
    if users.object_id(user_id) is None:
        raise InvalidId()
    user = await users.find_by_id(db, user_id)
    if user is None:
        raise UserNotFound()
    return user


async def list_users(db: Any, *, page: int, limit: int, sort: str, role: str | None = None,
                     is_active: bool | None = None, search: str | None = None) -> Page:
    """A page of users (validated query: sort is a LISTING_SORTS key) with totals."""
    query = user_listing.listing_filter(role=role, is_active=is_active, search=search)
    found, total = await user_listing.list_page(db, query, sort, (page - 1) * limit, limit)
    return Page(found, page, limit, total)


def _document_fields(changes: Mapping[str, Any], user: User) -> dict[str, Any]:
    """Validated API changes as a $set: preferences merge key by key; an unchanged email is
    no change, a new one is unverified until its owner follows the new link."""
    fields = {k: v for k, v in changes.items() if k != "preferences"}
    for key, value in (changes.get("preferences") or {}).items():
        fields[f"preferences.{key}"] = value
    if fields.get("email") == user.email:
        del fields["email"]
    elif "email" in fields:
        fields["isEmailVerified"] = False
    return fields


async def update_profile(db: Any, config: Config, mailer: Any, user: User,
                         changes: Mapping[str, Any], now: datetime, audit: Audit) -> User:
    """Apply validated changes to `user`; a new email resets verification and mails a link.
    Raises EmailTaken (409), UserNotFound (the user vanished meanwhile) or, for a change that
    would take away the last active admin, LastAdmin."""
    fields = _document_fields(changes, user)
    if not fields:
        return user
    mail_id = None
    if "email" in fields:
        # The link is queued first and its token stored with the new email in one write:
        # a worker that dies in between never leaves an unverified email without its mail.
        mail_id, token_fields = await queue_verification(config, mailer, fields["email"], now)
        fields.update(token_fields)
    try:
        updated = await last_admin.update_user(db, user.id, fields, now)
    except (EmailTaken, UserNotFound):
        await _discard(mailer, mail_id)
        raise
    if mail_id is not None:
        mailer.release(mail_id)
        audit.event("verification_resent", userId=user.id)
        audit.event("email_changed", userId=user.id)
    return updated


async def _discard(mailer: Any, mail_id: str | None) -> None:
    if mail_id is not None:
        await mailer.discard(mail_id)


async def change_password(db: Any, config: Config, user: User, session_id: str,
                          current: str, new: str, now: datetime, audit: Audit) -> None:
    """Check the current password, store the new one and end every other session.
    Raises CurrentPasswordIncorrect."""
    rounds = config.security.bcrypt_rounds
    if not await verify_password(current, user.password_hash or None, rounds):
        audit.event("password_change_failed", userId=user.id, reason="wrong_current")
        raise CurrentPasswordIncorrect()
    await users.change_password(db, user.id, await hash_password(new, rounds), session_id, now)
    # The update above already ended the other sessions; their documents go now.
    await sessions.delete_sessions(db, user.id, keep=[session_id])
    audit.event("session_ended", userId=user.id, all=True, kept=session_id,
                reason="password_changed")
    audit.event("password_changed", userId=user.id)


async def deactivate_self(db: Any, user: User, now: datetime, audit: Audit) -> None:
    """Deactivate the signed-in user's account and end all its sessions. Raises LastAdmin."""
    # A user an admin deleted meanwhile has nothing left to deactivate: still a success.
    with contextlib.suppress(UserNotFound):
        await last_admin.update_user(db, user.id, {"isActive": False}, now)
    await end_all_sessions(db, user, audit, reason="deactivated")
    audit.event("account_deactivated", userId=user.id, by=user.id)


async def admin_update(db: Any, config: Config, mailer: Any, user_id: str,
                       changes: Mapping[str, Any], now: datetime, audit: Audit,
                       actor_id: str) -> User:
    """An admin's change to any user (role, isActive and profile fields); deactivation ends
    the user's sessions. Raises InvalidId, UserNotFound, LastAdmin, EmailTaken."""
    target = await get_user(db, user_id)
    updated = await update_profile(db, config, mailer, target, changes, now, audit)
    if target.is_active and not updated.is_active:
        await end_all_sessions(db, updated, audit, reason="deactivated")
        audit.event("account_deactivated", userId=target.id, by=actor_id)
    if updated.role != target.role:
        audit.event("role_changed", userId=target.id, by=actor_id, old=target.role,
                    new=updated.role)
    return updated


async def delete_user(db: Any, user_id: str, now: datetime, audit: Audit,
                      actor_id: str) -> None:
    """Delete a user for good, with all its sessions (a hard delete).
    Raises InvalidId, UserNotFound, LastAdmin."""
    target = await get_user(db, user_id)
    await last_admin.delete_user(db, target.id, now)
    # The user document is gone, so its access tokens already fail; drop the refresh tokens.
    await end_sessions(db, target.id)
    audit.event("user_deleted", userId=target.id, by=actor_id)

