"""Authentication flows: register, login with lockout, email verification, password reset."""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime, timedelta
from typing import Any

from models import sessions, users
from models.outbox import Guard
from models.users import User
from server.core.config import Config
from server.core.errors import (
    AccountDeactivated,
    AccountLocked,
    AlreadyVerified,
    BadCredentials,
    EmailTaken,
    InvalidResetToken,
    InvalidVerificationToken,
)
from server.mail.messages import reset_email, verification_email
from server.security import (
    create_access_token,
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
    verify_password,
)
from server.services.audit import Audit
from server.services.sessions import (
    Started,
    new_refresh_token,
    start_session,
    store_session,
)

VERIFICATION_TTL = timedelta(hours=24)  # API.md: verification links live 24 h
RESET_TTL = timedelta(minutes=10)  # API.md: reset links live 10 min
FORGOT_MIN_SECONDS = 0.1  # well above either path (an outbox insert, an update, a delete)


def access_token(config: Config, user: User, session_id: str, now: datetime) -> str:
    """An access JWT for `user` in session `session_id`."""
    return create_access_token(config.jwt, user_id=user.id, email=user.email, role=user.role,
                               session_id=session_id, now=now)


async def register(db: Any, config: Config, mailer: Any, data: dict[str, Any], now: datetime,
                   *, user_agent: str | None, ip: str | None, audit: Audit) -> Started:
    """Create a user, start a session and mail a verification link. Raises EmailTaken.

    Three writes, in an order where a worker that dies between any two leaves no half
    state: the mail (held until the user holds its token), the user (with the token and
    the session listed), the session."""
    password_hash = await hash_password(data["password"], config.security.bcrypt_rounds)
    sid, refresh_token = new_refresh_token()
    email = data["email"].strip().lower()
    mail_id, token_fields = await queue_verification(config, mailer, email, now)
    doc = users.new_user_doc(
        first_name=data["firstName"], last_name=data["lastName"], email=email,
        password_hash=password_hash, now=now, first_session=sid,
        phoneNumber=data.get("phoneNumber"), dateOfBirth=data.get("dateOfBirth"),
        **token_fields)
    try:
        user = await users.insert_user(db, doc)
    except EmailTaken:
        await mailer.discard(mail_id)
        raise
    mailer.release(mail_id)
    await store_session(db, config, user.id, sid, refresh_token, 0, now,
                        user_agent=user_agent, ip=ip, audit=audit)
    audit.event("user_registered", userId=user.id)
    return Started(user, sid, refresh_token)


async def queue_verification(config: Config, mailer: Any, email: str,
                             now: datetime) -> tuple[str, dict[str, Any]]:
    """Queue a verification mail for `email`, held until a user stores its token; returns
    the outbox id and the user fields to store (the caller writes them, then releases it)."""
    token = new_token()
    hashed = token_hash(token)
    mail_id = await mailer.send(verification_email(config, email, token),
                                guard=Guard(users.VERIFICATION_TOKEN, hashed))
    return mail_id, {users.VERIFICATION_TOKEN: hashed,
                     "emailVerificationExpires": now + VERIFICATION_TTL}


async def login(db: Any, config: Config, email: str, password: str, now: datetime, *,
                user_agent: str | None, ip: str | None, audit: Audit) -> Started:
    """Check credentials under the lockout rules and start a session.
    Raises BadCredentials, AccountLocked (423 + Retry-After) or AccountDeactivated."""
    sec = config.security
    user = await _reserve_attempt(db, config, email, password, now, audit)
    if not await verify_password(password, user.password_hash, sec.bcrypt_rounds):
        if user.login_attempts >= sec.max_login_attempts:
            await _lock(db, config, user, now, audit)
        _failed(audit, user.id, "wrong_password")
        raise BadCredentials()
    if not user.is_active:
        # The password was right: this attempt must not count toward a lock (403 stays 403).
        await users.forget_attempts(db, user.id)
        audit.event("login_failed", metric="login_failed", userId=user.id,
                    reason="deactivated")
        raise AccountDeactivated()
    upgraded = None
    if needs_rehash(user.password_hash, sec.bcrypt_rounds):
        upgraded = await hash_password(password, sec.bcrypt_rounds)
    started = await start_session(db, config, user.id, now, user_agent=user_agent, ip=ip,
                                  login=True, new_hash=upgraded, audit=audit)
    audit.event("login_succeeded", metric="login_ok", userId=user.id,
                sessionId=started.session_id)
    return started


def _failed(audit: Audit, user_id: str | None, reason: str) -> None:
    audit.event("login_failed", metric="login_failed", level=logging.WARNING,
                userId=user_id, reason=reason)


async def _reserve_attempt(db: Any, config: Config, email: str, password: str,
                           now: datetime, audit: Audit) -> User:
    """Count this attempt atomically before any password check (so N concurrent guesses get
    at most max_login_attempts tries). Raises BadCredentials for an unknown email (after a
    dummy bcrypt of the same cost) and AccountLocked while locked."""
    sec = config.security
    email = email.strip().lower()
    reserved = await users.reserve_login_attempt(db, email, now, sec.max_login_attempts)
    if reserved is not None:
        return reserved
    user = await users.find_by_email(db, email)
    if user is None:
        await verify_password(password, None, sec.bcrypt_rounds)
        _failed(audit, None, "unknown_email")
        raise BadCredentials()
    if user.lock_until is not None and user.lock_until <= now \
            and await users.clear_expired_lock(db, user.id, now):
        reserved = await users.reserve_login_attempt(db, email, now, sec.max_login_attempts)
        if reserved is not None:
            return reserved
    if not user.locked_at(now):
        # Every allowed attempt is taken but the lock is not set yet (or was lost): set it.
        user = await _lock(db, config, user, now, audit) or user
    _failed(audit, user.id, "locked")
    raise _locked_error(user, now, config)


async def _lock(db: Any, config: Config, user: User, now: datetime,
                audit: Audit) -> User | None:
    """Lock the account for security.lock_duration unless another request already did."""
    until = now + config.security.lock_duration
    if not await users.lock_account(db, user.id, until, config.security.max_login_attempts,
                                    now):
        return None
    audit.event("account_locked", metric="lockout", level=logging.WARNING, userId=user.id,
                until=until.isoformat())
    return await users.find_by_id(db, user.id)


def _locked_error(user: User, now: datetime, config: Config) -> AccountLocked:
    if user.lock_until is not None and user.lock_until > now:
        seconds = math.ceil((user.lock_until - now).total_seconds())
    else:
        seconds = math.ceil(config.security.lock_duration.total_seconds())
    return AccountLocked(headers={"Retry-After": str(max(seconds, 1))},
                         extra={"retryAfter": max(seconds, 1)})


async def verify_email(db: Any, token: str, now: datetime, audit: Audit) -> User:
    """Mark the token's owner verified (single use). Raises InvalidVerificationToken."""
    user = await users.verify_email(db, token_hash(token), now)
    if user is None:
        raise InvalidVerificationToken()
    audit.event("email_verified", userId=user.id)
    return user


async def resend_verification(db: Any, config: Config, mailer: Any, user: User,
                              now: datetime, audit: Audit) -> None:
    """Mail a fresh verification link; older links stop working. Raises AlreadyVerified."""
    if user.is_email_verified:
        raise AlreadyVerified()
    await send_verification(db, config, mailer, user, now)
    audit.event("verification_resent", userId=user.id)


async def send_verification(db: Any, config: Config, mailer: Any, user: User,
                            now: datetime) -> None:
    """Mail `user.email` a new 24 h verification link, replacing any older one (also for an
    email change: the caller resets isEmailVerified)."""
    mail_id, fields = await queue_verification(config, mailer, user.email, now)
    await users.set_verification_token(db, user.id, fields[users.VERIFICATION_TOKEN],
                                       fields["emailVerificationExpires"])
    mailer.release(mail_id)


async def forgot_password(db: Any, config: Config, mailer: Any, email: str, now: datetime,
                          audit: Audit) -> None:
    """Mail a reset link if the email belongs to a user; says nothing either way, and takes
    the same time either way. The mail is queued first, held until a user stores its token,
    so a worker that dies in between never leaves a stored token without its mail."""
    deadline = asyncio.get_running_loop().time() + FORGOT_MIN_SECONDS
    token, email = new_token(), email.strip().lower()
    mail_id = await mailer.send(reset_email(config, email, token),
                                guard=Guard(users.RESET_TOKEN, token_hash(token)))
    user = await users.set_reset_token(db, email, token_hash(token), now + RESET_TTL)
    if user is None:
        await mailer.discard(mail_id)
        audit.event("password_reset_requested", known=False)
    else:
        mailer.release(mail_id)
        audit.event("password_reset_requested", known=True, userId=user.id)
    # Pad both paths to one floor so response time does not tell whether the email exists.
    await asyncio.sleep(max(0.0, deadline - asyncio.get_running_loop().time()))


async def reset_password(db: Any, config: Config, token: str, password: str, now: datetime,
                         audit: Audit) -> User:
    """Set a new password from a reset link (single use), end every session, clear the lock.
    Raises InvalidResetToken."""
    new_hash = await hash_password(password, config.security.bcrypt_rounds)
    user = await users.reset_password(db, token_hash(token), new_hash, now)
    if user is None:
        raise InvalidResetToken()
    # The update above already emptied the user's session list (every token is refused from
    # now on); what is left is deleting the documents.
    await sessions.delete_sessions(db, user.id)
    audit.event("password_reset", userId=user.id)
    audit.event("session_ended", userId=user.id, all=True, reason="password_reset")
    return user
