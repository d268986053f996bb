"""User flows: profile changes, deactivation, admin management (the password and the user's
own email change are in server/services/credentials.py).

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

from models import user_listing, users
from models.user_credentials import NO_MAILED_LINKS
from models.users import User
from server.core.config import Config
from server.core.errors import (
    EmailTaken,
    FieldError,
    InvalidId,
    UserNotFound,
    ValidationFailed,
)
from server.mail.messages import email_changed_notice
from server.observability.audit import Audit
from server.services import last_admin
from server.services.auth import queue_verification
from server.services.credentials import check_password, request_email_change
from server.services.sessions import end_all_sessions, end_sessions

EMAIL_CHANGE_NEEDS = "Current password is required to change the email"


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
    no change; `currentPassword` is a proof, never stored."""
    fields = {k: v for k, v in changes.items() if k not in ("preferences", "currentPassword")}
    for key, value in (changes.get("preferences") or {}).items():
        fields[f"preferences.{key}"] = value
    if fields.get("email") == user.email:
        del fields["email"]
    return fields


def _new_email(changes: Mapping[str, Any], user: User) -> str | None:
    email = changes.get("email")
    return email if email is not None and email != user.email else None


async def update_profile(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                         changes: Mapping[str, Any], now: datetime, audit: Audit) -> User:
    """Apply validated changes to the signed-in `user`. A new email needs `currentPassword`
    and only becomes pending (credentials.request_email_change). Raises ValidationFailed
    (no currentPassword with a new email), CurrentPasswordIncorrect, InvalidToken or
    UserNotFound (the user vanished meanwhile)."""
    email = _new_email(changes, user)
    if email is not None:
        current = changes.get("currentPassword")
        if not current:
            raise ValidationFailed(EMAIL_CHANGE_NEEDS, errors=[
                FieldError("currentPassword", EMAIL_CHANGE_NEEDS)])
        others = {k: v for k, v in changes.items() if k != "email"}
        return await request_email_change(db, config, mailer, user, session_id, email,
                                          current, _document_fields(others, user), now,
                                          audit)
    fields = _document_fields(changes, user)
    return await last_admin.update_user(db, user.id, fields, now) if fields else user


async def _write(db: Any, config: Config, mailer: Any, target: User,
                 changes: Mapping[str, Any], now: datetime, audit: Audit) -> User:
    """An admin's change applies at once; a new email is unverified, voids every mailed
    link, gets a verification link and tells the old address. Raises EmailTaken (409),
    UserNotFound (the user vanished meanwhile) or LastAdmin."""
    fields = _document_fields(changes, target)
    if not fields:
        return target
    mail_id = None
    if "email" in fields:
        # The link is queued first and its token stored with the new email in one write:
        # a worker that dies in between never leaves an unverified email without its mail.
        mail_id, token_fields = await queue_verification(config, mailer, fields["email"], now)
        fields.update(NO_MAILED_LINKS, isEmailVerified=False, **token_fields)
    try:
        updated = await last_admin.update_user(db, target.id, fields, now)
    except (EmailTaken, UserNotFound):
        if mail_id is not None:
            await mailer.discard(mail_id)
        raise
    if mail_id is not None:
        mailer.release(mail_id)
        await mailer.send(email_changed_notice(target.email, updated.email))
        audit.event("verification_resent", userId=target.id)
        audit.event("email_changed", userId=target.id)
    return updated


async def deactivate_self(db: Any, config: Config, mailer: Any, user: User, current: str,
                          now: datetime, audit: Audit) -> None:
    """Check the current password, then deactivate the signed-in user's account and end all
    its sessions (which bumps its credential version: a login in flight cannot add one).
    Raises CurrentPasswordIncorrect or LastAdmin."""
    await check_password(db, config, mailer, user, current, now, audit, "deactivation")
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
    updated = await _write(db, config, mailer, target, changes, now, audit)
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

