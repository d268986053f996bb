"""Step-up for sensitive changes (issue 16 item 5).

The signed-in user's own password or email change and account deletion already take the
current password. For an account with a second factor that is not enough: the session must
have signed in (or re-authenticated) within security.reauth_window, or the request must
carry a current code; otherwise 401 REAUTH_REQUIRED.

An admin's change of a role, of a user's status or email, a deletion or a factor reset
(`require_admin`) asks the same of EVERY admin, with or without a factor, since the
admin route takes no password of its own: a recent sign-in, or `currentPassword` (+ a
current code when the admin has a factor).

Every password or code checked here runs under the login's lockout (a wrong one is a
failed attempt, locking at the limit), so a stolen access token cannot be turned into
unlimited guesses. `reauth` re-authenticates the current session that way and moves its
auth_time to now.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from models import user_mfa
from models.users import User
from server.core.config import Config
from server.core.errors import (
    BadCredentials,
    CurrentPasswordIncorrect,
    InvalidMfaCode,
    InvalidToken,
    MfaCodeIncorrect,
    MfaNotEnabled,
    ReauthRequired,
)
from server.observability.audit import Audit
from server.services import auth_context, lockout, totp
from server.services.auth_context import OTP_AMR, PASSWORD_AMR, AuthContext
from server.services.lockout import Clock

# The fields of PATCH /users/{id} whose change needs the admin's step-up.
ADMIN_SENSITIVE = frozenset({"role", "isActive", "email"})


def _recent(config: Config, user: User, session_id: str, now: datetime) -> bool:
    signed = auth_context.of_session(user, session_id)
    return now - signed.auth_time <= config.security.reauth_window


def _refuse(user: User, session_id: str, audit: Audit) -> ReauthRequired:
    audit.event("reauth_required", userId=user.id, sessionId=session_id)
    return ReauthRequired()


async def require_recent(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                         code: str | None, clock: Clock, audit: Audit) -> None:
    """The user's own sensitive change (its currentPassword is checked by the flow): pass
    when the account has no second factor, the session authenticated within
    security.reauth_window, or `code` is a current unused code (checked under the lockout).
    Raises MfaCodeIncorrect, AccountLocked or ReauthRequired."""
    if not user.mfa_totp:
        return
    if code is not None:
        await _check(db, config, mailer, user, None, code, clock, audit, "step_up")
        return
    if not _recent(config, user, session_id, clock()):
        raise _refuse(user, session_id, audit)


async def require_admin(db: Any, config: Config, mailer: Any, admin: User, session_id: str,
                        current_password: str | None, code: str | None, clock: Clock,
                        audit: Audit, action: str = "admin_step_up") -> None:
    """An admin's change to a role, a status, an email, a deletion or a factor reset (and a
    user's own passkey added or removed, `action` naming it): pass
    when the session authenticated within security.reauth_window (the body's credentials
    are then not needed, nor looked at), else `current_password` and, when the admin has a
    factor, `code` must be right (under the lockout). Raises ReauthRequired (neither),
    CurrentPasswordIncorrect, MfaCodeIncorrect or AccountLocked."""
    if _recent(config, admin, session_id, clock()):
        return
    if current_password is None or (admin.mfa_totp and code is None):
        raise _refuse(admin, session_id, audit)
    await _check(db, config, mailer, admin, current_password, code, clock, audit, action)
    audit.event("stepped_up", userId=admin.id, sessionId=session_id)


async def remove_totp(db: Any, config: Config, mailer: Any, user: User, password: str,
                      code: str, clock: Clock, audit: Audit) -> None:
    """DELETE /auth/mfa/totp: the password and a current code, always, checked under the
    lockout (a stolen token must not buy unlimited code guesses), then TOTP goes.
    Raises CurrentPasswordIncorrect, MfaCodeIncorrect, AccountLocked, MfaNotEnabled."""
    if not user.mfa_totp:
        raise MfaNotEnabled()
    await _check(db, config, mailer, user, password, code, clock, audit, "mfa_remove")
    await totp.remove(db, mailer, user, clock(), audit)


async def _check(db: Any, config: Config, mailer: Any, user: User, password: str | None,
                 code: str | None, clock: Clock, audit: Audit, action: str) -> None:
    """_verify, with its errors as a signed-in change answers them (400, not 401)."""
    try:
        await _verify(db, config, mailer, user, password, code, clock, audit, action)
    except BadCredentials:
        raise CurrentPasswordIncorrect() from None
    except InvalidMfaCode:
        raise MfaCodeIncorrect() from None


async def _verify(db: Any, config: Config, mailer: Any, user: User, password: str | None,
                  code: str | None, clock: Clock, audit: Audit,
                  action: str) -> tuple[tuple[str, ...], User]:
    """Check `password` (unless None) and, when the account has a factor, `code`, as a login
    does: holding an attempt slot, a wrong one settled as a failure. The amr proven, and
    the user as read with the slot.
    Raises BadCredentials, InvalidMfaCode, AccountLocked or InvalidToken (the account
    changed meanwhile)."""
    account = lockout.AccountLedger(db, user.email, secrets.token_hex(8), config.security,
                                    mailer)
    async with lockout.released_if_dead(account):
        if not await lockout.take_slot(account, clock, config, audit) \
                or account.user is None or account.user.id != user.id:
            raise InvalidToken()
        if password is not None:
            await lockout.check_password(account, password, account.user.password_hash,
                                         clock, config, audit, f"{action}_wrong_password")
        factors = await user_mfa.find(db, user.id)
        amr: tuple[str, ...] = PASSWORD_AMR
        if factors.totp_secret is not None:
            if code is None or not await totp.use_code(db, config, user,
                                                       factors.totp_secret, code, clock()):
                await lockout.settle_failure(account, clock, audit, f"{action}_wrong_code")
                raise InvalidMfaCode()
            amr = OTP_AMR
        await account.release()
    return amr, account.user


async def reauth(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                 password: str, code: str | None, clock: Clock, audit: Audit) -> AuthContext:
    """Check the password (and a code when a factor exists) as a login does, counted toward
    the lockout, then record now as the session's auth_time. Raises BadCredentials,
    InvalidMfaCode, AccountLocked or InvalidToken (the account changed meanwhile)."""
    amr, fresh = await _verify(db, config, mailer, user, password, code, clock, audit,
                               "reauth")
    now = clock()
    await auth_context.record(db, fresh, session_id, amr, now)
    audit.event("reauthenticated", userId=user.id, sessionId=session_id, amr=list(amr))
    return AuthContext(amr, now)
