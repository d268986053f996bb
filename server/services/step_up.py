"""Step-up for sensitive changes (issue 16 item 5).

The signed-in user's own password or email change and account deletion already take the
current password. For an account with a second factor (TOTP or a passkey) that is not
enough: the session must have signed in (or re-authenticated) within security.reauth_window,
or the request must carry a current code or a passkey assertion (to a challenge of
server/services/passkey_reauth.py, bound to this session); otherwise 401 REAUTH_REQUIRED.

An admin's change of a role, of a user's status or email, a deletion or a factor reset
(`require_admin`) asks the same of EVERY admin, with or without a factor, since the
admin route takes no password of its own: a recent sign-in, or `currentPassword` (+ a
current code or a passkey assertion when the admin has a factor).

Every password, code or assertion checked here runs under the login's lockout (a wrong one is a
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
from server.core.errors import BadCredentials, CurrentPasswordIncorrect, InvalidToken
from server.core.factor_errors import (
    InvalidMfaCode,
    InvalidPasskey,
    MfaCodeIncorrect,
    MfaNotEnabled,
    PasskeyRejected,
    ReauthRequired,
)
from server.observability.audit import Audit
from server.services import auth_context, lockout, passkey_reauth, totp
from server.services.auth_context import OTP_AMR, PASSWORD_AMR, AuthContext
from server.services.lockout import Clock

# The fields of PATCH /users/{id} whose change needs the admin's step-up.
ADMIN_SENSITIVE = frozenset({"role", "isActive", "email"})
Passkey = dict[str, Any] | None  # an assertion (PublicKeyCredential JSON), or none given


def has_factor(user: User) -> bool:
    """From the user as read (no extra database work): TOTP on, or a passkey."""
    return user.mfa_totp or user.passkeys > 0


def _recent(config: Config, user: User, session_id: str, now: datetime) -> bool:
    signed = auth_context.of_session(user, session_id)
    return now - signed.auth_time <= config.security.reauth_window


def _refuse(user: User, session_id: str, audit: Audit) -> ReauthRequired:
    audit.event("reauth_required", userId=user.id, sessionId=session_id)
    return ReauthRequired()


async def require_recent(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                         code: str | None, clock: Clock, audit: Audit, *,
                         passkey: Passkey = None) -> None:
    """The user's own sensitive change (its currentPassword is checked by the flow): pass
    when the account has no second factor, the session authenticated within
    security.reauth_window, or `code` is a current unused code or `passkey` an assertion
    to this session's challenge (checked under the lockout). Raises MfaCodeIncorrect,
    PasskeyRejected, AccountLocked or ReauthRequired."""
    if not has_factor(user):
        return
    if code is not None or passkey is not None:
        await _check(db, config, mailer, user, session_id, None, code, passkey, clock, audit,
                     "step_up")
        return
    if not _recent(config, user, session_id, clock()):
        raise _refuse(user, session_id, audit)


async def require_admin(db: Any, config: Config, mailer: Any, admin: User, session_id: str,
                        current_password: str | None, code: str | None, clock: Clock,
                        audit: Audit, action: str = "admin_step_up", *,
                        passkey: Passkey = None) -> None:
    """An admin's change to a role, a status, an email, a deletion or a factor reset (and a
    user's own passkey added or removed, `action` naming it): pass
    when the session authenticated within security.reauth_window (the body's credentials
    are then not needed, nor looked at), else `current_password` and, when the admin has a
    factor, `code` or `passkey` must be right (under the lockout). Raises ReauthRequired
    (neither), CurrentPasswordIncorrect, MfaCodeIncorrect, PasskeyRejected or
    AccountLocked."""
    if _recent(config, admin, session_id, clock()):
        return
    if current_password is None or (has_factor(admin) and code is None and passkey is None):
        raise _refuse(admin, session_id, audit)
    await _check(db, config, mailer, admin, session_id, current_password, code, passkey,
                 clock, audit, action)
    audit.event("stepped_up", userId=admin.id, sessionId=session_id)


async def remove_totp(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                      password: str, code: str, clock: Clock, audit: Audit) -> None:
    """DELETE /auth/mfa/totp: the password and a current code, always, checked under the
    lockout (a stolen token must not buy unlimited code guesses), then TOTP goes.
    Raises CurrentPasswordIncorrect, MfaCodeIncorrect, AccountLocked, MfaNotEnabled."""
    if not user.mfa_totp:
        raise MfaNotEnabled()
    await _check(db, config, mailer, user, session_id, password, code, None, clock, audit,
                 "mfa_remove")
    await totp.remove(db, mailer, user, clock(), audit)


async def _check(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                 password: str | None, code: str | None, passkey: Passkey, clock: Clock,
                 audit: Audit, action: str) -> None:
    """_verify, with its errors as a signed-in change answers them (400, not 401)."""
    try:
        await _verify(db, config, mailer, user, session_id, password, code, passkey, clock,
                      audit, action)
    except BadCredentials:
        raise CurrentPasswordIncorrect() from None
    except InvalidMfaCode:
        raise MfaCodeIncorrect() from None
    except InvalidPasskey:
        raise PasskeyRejected() from None


async def _verify(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                  password: str | None, code: str | None, passkey: Passkey, clock: Clock,
                  audit: Audit, action: str) -> tuple[tuple[str, ...], User]:
    """Check `password` (unless None) and, when the account has a factor, `code` or
    `passkey`, as a login does: holding an attempt slot, a wrong one settled as a failure.
    The amr proven, and the user as read with the slot.
    Raises BadCredentials, InvalidMfaCode, InvalidPasskey, AccountLocked or InvalidToken
    (the account changed meanwhile)."""
    account = lockout.AccountLedger(db, user.email, secrets.token_hex(8), config.security,
                                    mailer)
    async with lockout.released_if_dead(account):
        if not await lockout.take_slot(account, clock, config, audit) \
                or account.user is None or account.user.id != user.id:
            raise InvalidToken()
        if password is not None:
            await lockout.check_password(account, password, account.user.password_hash,
                                         clock, config, audit, f"{action}_wrong_password")
        amr = await _factor(db, config, account, account.user, session_id, code, passkey,
                            clock, audit, action)
        await account.release()
    return amr, account.user


async def _factor(db: Any, config: Config, account: lockout.AccountLedger, user: User,
                  session_id: str, code: str | None, passkey: Passkey, clock: Clock,
                  audit: Audit, action: str) -> tuple[str, ...]:
    """With the slot held: the second factor's check, its amr. A passkey assertion is
    checked when given; else a TOTP account needs its code; a passkey-only account needs an
    assertion (a code is wrong there); an account without a factor passes (a code ignored,
    as before passkeys). A failure is settled as such and raised."""
    if passkey is not None:
        return (*PASSWORD_AMR, await passkey_reauth.check(db, config, account, user,
                                                          session_id, passkey, clock, audit,
                                                          action))
    factors = await user_mfa.find(db, user.id)
    if factors.totp_secret is not None:
        if code is None or not await totp.use_code(db, config, user, factors.totp_secret,
                                                   code, clock()):
            await lockout.settle_failure(account, clock, audit, f"{action}_wrong_code")
            raise InvalidMfaCode()
        return OTP_AMR
    if user.passkeys:
        await lockout.settle_failure(account, clock, audit, f"{action}_wrong_passkey")
        raise InvalidMfaCode() if code is not None else InvalidPasskey()
    return PASSWORD_AMR


async def reauth(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                 password: str, code: str | None, clock: Clock, audit: Audit, *,
                 passkey: Passkey = None) -> AuthContext:
    """Check the password (and a code or a passkey assertion when a factor exists) as a
    login does, counted toward the lockout, then record now as the session's auth_time.
    Raises BadCredentials, InvalidMfaCode, InvalidPasskey, AccountLocked or InvalidToken
    (the account changed meanwhile)."""
    amr, fresh = await _verify(db, config, mailer, user, session_id, password, code, passkey,
                               clock, audit, "reauth")
    now = clock()
    await auth_context.record(db, fresh, session_id, amr, now)
    audit.event("reauthenticated", userId=user.id, sessionId=session_id, amr=list(amr))
    return AuthContext(amr, now)
