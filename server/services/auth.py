"""Authentication flows: register, login, email verification, password reset."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from models import sessions, user_credentials, users
from models.attempts import is_quiet
from models.outbox import Guard
from models.users import User
from server.core.config import Config
from server.core.errors import (
    AccountDeactivated,
    AlreadyVerified,
    BadCredentials,
    EmailTaken,
    InvalidResetToken,
    InvalidVerificationToken,
)
from server.mail.messages import password_reset_notice, reset_email, verification_email
from server.observability.audit import Audit
from server.security import (
    Match,
    create_access_token,
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
)
from server.services import auth_context, lockout, second_factor
from server.services.auth_context import PASSWORD_AMR
from server.services.lockout import Clock
from server.services.second_factor import MfaChallenge, has_factor
from server.services.sessions import (
    Started,
    new_refresh_token,
    start_login_as_read,
    start_session,
    store_session,
)
from server.signing import SigningKey

VERIFICATION_TTL = timedelta(hours=24)  # API.md: verification links live 24 h
RESET_TTL = timedelta(minutes=10)  # API.md: reset links live 10 min
FORGOT_MIN_SECONDS = 0.1  # well above either path (an outbox insert, an update, a delete)


def access_token(config: Config, user: User, session_id: str, now: datetime, *,
                 amr: Sequence[str] = PASSWORD_AMR, auth_time: datetime | None = None,
                 key: SigningKey | None = None) -> str:
    """An access JWT for `user` in session `session_id`: `amr` says how the user signed in
    and `auth_time` when (default: now, a sign-in this moment); signed by `key` (the worker's
    current signing key; None: jwt.secret, HS256 only)."""
    return create_access_token(config.jwt, user_id=user.id, email=user.email, role=user.role,
                               session_id=session_id, now=now, amr=list(amr),
                               auth_time=auth_time or now, key=key)


async def register(db: Any, config: Config, mailer: Any, data: dict[str, Any], now: datetime,
                   *, user_agent: str | None, ip: str | None, audit: Audit) -> Started:
    """Create a user, start a session and mail a verification link. Raises EmailTaken.

    Three writes, in an order where a worker that dies between any two leaves no half
    state: the mail (held until the user holds its token), the user (with the token and
    the session listed), the session."""
    password_hash = await hash_password(data["password"], config.security.bcrypt_rounds)
    user_id = ObjectId()  # chosen here: the first refresh token carries it
    sid, refresh_token = new_refresh_token(str(user_id))
    email = data["email"]  # canonical already (the Email field)
    mail_id, token_fields = await queue_verification(config, mailer, email, now)
    doc = users.new_user_doc(
        first_name=data["firstName"], last_name=data["lastName"], email=email,
        password_hash=password_hash, now=now, first_session=sid, _id=user_id,
        phoneNumber=data.get("phoneNumber"), dateOfBirth=data.get("dateOfBirth"),
        **token_fields)
    try:
        user = await users.insert_user(db, doc)
    except EmailTaken:
        await mailer.discard(mail_id)
        raise
    try:
        await store_session(db, config, user.id, sid, refresh_token, 0, now,
                            user_agent=user_agent, ip=ip, audit=audit)
    except BaseException:
        # A register that fails after the insert leaves nothing behind (no account, no
        # session, no mail): a half account would only turn the client's retry into a 409.
        await asyncio.shield(_undo_register(db, mailer, user.id, mail_id))
        raise
    mailer.release(mail_id)
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


async def _undo_register(db: Any, mailer: Any, user_id: str, mail_id: str) -> None:
    # Best effort, user first (it is what blocks a retry): the error that brought us here
    # is the one the client must see.
    with contextlib.suppress(Exception):
        await users.delete_user(db, user_id)
    with contextlib.suppress(Exception):
        await mailer.discard(mail_id)
    with contextlib.suppress(Exception):
        await sessions.delete_sessions(db, user_id)


async def login(db: Any, config: Config, mailer: Any, email: str, password: str,
                clock: Clock, *, user_agent: str | None, ip: str | None,
                audit: Audit) -> Started | MfaChallenge:
    """Check credentials under the lockout rules (server/services/lockout.py) and start a
    session, or, when the account has a second factor, answer a challenge for it
    (server/services/mfa_signin.py completes it). Raises BadCredentials, AccountLocked
    (423 + Retry-After), AccountDeactivated, or ServiceUnavailable when no attempt slot
    frees within a lease."""
    attempt = secrets.token_hex(8)
    account = lockout.AccountLedger(db, email, attempt, config.security, mailer)
    async with lockout.released_if_dead(account):
        read = await account.look()
        if read is not None and is_quiet(read.lockout) and not has_factor(read.user):
            return await _sign_in_quiet(db, config, account, read, password, clock,
                                        user_agent=user_agent, ip=ip, audit=audit)
        if read is not None and await lockout.take_slot(account, clock, config, audit) \
                and account.user:
            matched = await lockout.check_password(account, password,
                                                   account.user.password_hash, clock, config,
                                                   audit, "wrong_password")
            return await _sign_in(db, config, account, account.user, password, matched,
                                  clock, user_agent=user_agent, ip=ip, audit=audit)
    await lockout.reject_unknown(db, config, email, password, attempt, clock, audit)


async def _sign_in_quiet(db: Any, config: Config, account: lockout.AccountLedger,
                         read: users.LoginRead, password: str, clock: Clock, *,
                         user_agent: str | None, ip: str | None,
                         audit: Audit) -> Started | MfaChallenge:
    """The common login, on an account with no failure, lock or check in flight: the
    password is checked before any slot is taken and the session starts with one write
    conditional on the account being still as read (three commands in all). Whatever
    touched the account meanwhile (another attempt, a reset, a profile write) sends the
    login on through a slot, with the password already checked."""
    user = read.user
    matched = await lockout.check_before_slot(account, read, password, clock, config, audit,
                                              "wrong_password")
    if matched is Match.NFC and user.is_active \
            and not needs_rehash(user.password_hash, config.security.bcrypt_rounds):
        started = await start_login_as_read(db, config, read, clock(), user_agent=user_agent,
                                            ip=ip, audit=audit)
        if started is not None:
            return _succeeded(audit, started, PASSWORD_AMR)
    if not await lockout.take_slot(account, clock, config, audit):
        raise BadCredentials()  # the account was deleted meanwhile
    # `user` as read before the check: a session is added only while its credentials hold.
    return await _sign_in(db, config, account, user, password, matched, clock,
                          user_agent=user_agent, ip=ip, audit=audit)


async def _sign_in(db: Any, config: Config, account: lockout.AccountLedger, user: User,
                   password: str, matched: Match, clock: Clock, *, user_agent: str | None,
                   ip: str | None, audit: Audit) -> Started | MfaChallenge:
    """With an attempt slot held on `user` and its password right (`matched`): start a
    session (or challenge for the second factor)."""
    sec = config.security
    if not user.is_active:
        # The password was right: this attempt must not count toward a lock (403 stays 403).
        await users.release_login_attempt(db, user.email, account.attempt, forget=True)
        audit.event("login_failed", metric="login_failed", userId=user.id,
                    reason="deactivated")
        raise AccountDeactivated()
    challenge = await second_factor.challenge(db, account, user, clock(), audit)
    if challenge is not None:  # issue 16: a second factor is due before any session
        return challenge
    upgraded = None
    # A hash made before passwords were NFC-normalised, or with another cost, is replaced.
    if matched is Match.RAW or needs_rehash(user.password_hash, sec.bcrypt_rounds):
        upgraded = await hash_password(password, sec.bcrypt_rounds)
    return await start_signed_in(db, config, account, user, clock, PASSWORD_AMR,
                                 new_hash=upgraded, user_agent=user_agent, ip=ip, audit=audit)


async def start_signed_in(db: Any, config: Config, account: lockout.AccountLedger, user: User,
                          clock: Clock, amr: Sequence[str], *, new_hash: str | None = None,
                          user_agent: str | None, ip: str | None, audit: Audit) -> Started:
    """With the attempt slot held and every factor checked: start the session (settling the
    attempt), and record how the user authenticated (`amr`, now as auth_time)."""
    # `user` was read (with its credentialVersion) before bcrypt: the session is added only if
    # no reset, password change, deactivation or logout-all committed since (issue 13 #2).
    # Adding the session also settles the attempt: the count restarts at 0, the slot frees.
    now = clock()
    try:
        started = await start_session(db, config, user.id, now, user_agent=user_agent,
                                      ip=ip, login=True, attempt=account.attempt,
                                      new_hash=new_hash, version=user.credential_version,
                                      seen=user, audit=audit)
    except BadCredentials:
        # That change wins; this attempt is given back uncounted (it guessed nothing wrong).
        await account.release()
        lockout.failed(audit, user.id, "credentials_changed")
        raise
    if tuple(amr) != PASSWORD_AMR:  # a password sign-in is what an unrecorded session means
        await auth_context.record(db, started.user, started.session_id, amr, now)
    return _succeeded(audit, started, amr)


def _succeeded(audit: Audit, started: Started, amr: Sequence[str]) -> Started:
    """Log a sign-in and say how it was made (`amr`) on its result."""
    audit.event("login_succeeded", metric="login_ok", userId=started.user.id,
                sessionId=started.session_id, amr=list(amr))
    return dataclasses.replace(started, amr=tuple(amr))


async def verify_email(db: Any, token: str, now: datetime, audit: Audit) -> User:
    """Follow a mailed verification link (single use): verify the current address, or switch
    the sign-in email to a pending one. Raises InvalidVerificationToken, or EmailTaken when
    the pending address was registered meanwhile (the change is dropped)."""
    hashed = token_hash(token)
    user = await users.verify_email(db, hashed, now)
    if user is not None:
        audit.event("email_verified", userId=user.id)
        return user
    user = await user_credentials.confirm_email_change(db, hashed, now)
    if user is None:
        raise InvalidVerificationToken()
    audit.event("email_changed", userId=user.id)
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
    token = new_token()  # `email` is canonical already (the Email field)
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


async def reset_password(db: Any, config: Config, mailer: Any, token: str, password: str,
                         now: datetime, audit: Audit) -> User:
    """Set a new password from a reset link (single use), end every session, clear the lock,
    drop a pending email change, mail the owner a notice. Raises InvalidResetToken."""
    new_hash = await hash_password(password, config.security.bcrypt_rounds)
    user = await user_credentials.reset_password(db, token_hash(token), new_hash, now)
    if user is None:
        raise InvalidResetToken()
    # The update above already emptied the user's session list (every token is refused from
    # now on) and bumped its version; what is left is deleting the documents.
    await sessions.delete_sessions(db, user.id)
    await mailer.send(password_reset_notice(user.email))
    audit.event("password_reset", userId=user.id)
    audit.event("session_ended", userId=user.id, all=True, reason="password_reset")
    return user
