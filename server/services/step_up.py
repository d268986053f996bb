"""Step-up for sensitive changes (issue 16): password or email change, account deletion.

These routes already take the current password. For an account with a second factor that
is not enough: the session must have signed in (or re-authenticated) within
security.reauth_window, or the request must carry a current code; otherwise 401
REAUTH_REQUIRED. `reauth` re-authenticates the current session (password, and a code when
a factor exists) under the login's lockout, and moves its auth_time to now.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from models import user_mfa
from models.users import User
from server.core.config import Config
from server.core.errors import InvalidMfaCode, InvalidToken, MfaCodeIncorrect, ReauthRequired
from server.observability.audit import Audit
from server.services import auth_context, lockout, totp
from server.services.auth_context import OTP_AMR, PASSWORD_AMR, AuthContext
from server.services.lockout import Clock


async def require_recent(db: Any, config: Config, user: User, session_id: str,
                         code: str | None, now: datetime, audit: Audit) -> None:
    """Pass when the account has no second factor, `code` is a current unused code, or
    the session authenticated within security.reauth_window. Raises MfaCodeIncorrect (a
    code that is wrong) or ReauthRequired."""
    if not user.mfa_totp:
        return
    if code is not None:
        secret = (await user_mfa.find(db, user.id)).totp_secret
        if secret is not None and await totp.use_code(db, config, user, secret, code, now):
            return
        raise MfaCodeIncorrect()
    signed = auth_context.of_session(user, session_id)
    if now - signed.auth_time <= config.security.reauth_window:
        return
    audit.event("reauth_required", userId=user.id, sessionId=session_id)
    raise ReauthRequired()


async def reauth(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                 password: str, code: str | None, clock: Clock, audit: Audit) -> AuthContext:
    """Check the password (and a code when a factor exists) as a login does, counted toward
    the lockout, then record now as the session's auth_time. Raises BadCredentials,
    InvalidMfaCode, AccountLocked or InvalidToken (the account changed meanwhile)."""
    account = lockout.AccountLedger(db, user.email, secrets.token_hex(8), config.security,
                                    mailer)
    async with lockout.released_if_dead(account):
        if not await lockout.take_slot(account, clock, config, audit) \
                or account.user is None or account.user.id != user.id:
            raise InvalidToken()
        await lockout.check_password(account, password, account.user.password_hash, clock,
                                     config, audit, "reauth_wrong_password")
        factors = await user_mfa.find(db, user.id)
        amr: tuple[str, ...] = PASSWORD_AMR
        if factors.totp_secret is not None:
            if code is None or not await totp.use_code(db, config, user,
                                                       factors.totp_secret, code, clock()):
                await lockout.settle_failure(account, clock, audit, "reauth_wrong_code")
                raise InvalidMfaCode()
            amr = OTP_AMR
        await account.release()
    now = clock()
    await auth_context.record(db, account.user, session_id, amr, now)
    audit.event("reauthenticated", userId=user.id, sessionId=session_id, amr=list(amr))
    return AuthContext(amr, now)
