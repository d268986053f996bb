"""Completing a sign-in with its second factor: `mfaToken` + a TOTP code or a recovery code.

Under the login's lockout rules (server/services/lockout.py): the attempt takes a slot on the
account like a password check, a wrong or replayed code is settled as a failure (locking at
the limit, exactly under concurrency), and the right one starts the session with the login's
own code (auth.start_signed_in). What is used up, each by one conditional write, so that of
racing requests exactly one wins: the challenge (single use), then the TOTP time step or the
recovery code.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, NoReturn

from models import mfa_challenges, user_mfa, users
from models.mfa_challenges import Challenge
from models.user_mfa import Factors
from models.users import User
from server.core.config import Config
from server.core.errors import AccountDeactivated
from server.core.factor_errors import InvalidMfaCode, InvalidMfaToken
from server.mail.messages import recovery_code_used_notice
from server.observability.audit import Audit
from server.security import token_hash
from server.services import auth, lockout, passkey_signin, totp_codes
from server.services.auth_context import OTP_AMR
from server.services.lockout import Clock
from server.services.sessions import Started


async def verify(db: Any, config: Config, mailer: Any, token: str, code: str | None,
                 recovery_code: str | None, clock: Clock, *, user_agent: str | None,
                 ip: str | None, audit: Audit, passkey: dict[str, Any] | None = None) -> Started:
    """Check the second factor of the challenge `token` (a code, a recovery code or a
    passkey assertion) and start the session. Raises InvalidMfaToken (unknown, used,
    expired, voided by a credential change), InvalidMfaCode or InvalidPasskey (counted
    toward the lockout), AccountLocked, AccountDeactivated or ServiceUnavailable."""
    hashed = token_hash(token)
    challenge = await mfa_challenges.find_live(db, hashed, clock())
    user = await users.find_by_id(db, challenge.user_id) if challenge else None
    if challenge is None or user is None:
        raise InvalidMfaToken()
    account = lockout.AccountLedger(db, user.email, secrets.token_hex(8), config.security,
                                    mailer)
    async with lockout.released_if_dead(account):
        if not await lockout.take_slot(account, clock, config, audit) or account.user is None:
            raise InvalidMfaToken()  # the account is gone (or its address changed)
        user = account.user
        await _check_account(account, user, challenge)
        if passkey is not None:
            return await passkey_signin.second_factor(db, config, account, user, hashed,
                                                      passkey, clock, user_agent=user_agent,
                                                      ip=ip, audit=audit)
        return await _check_factor(db, config, mailer, account, user, hashed, code,
                                   recovery_code, clock, user_agent=user_agent, ip=ip,
                                   audit=audit)


async def _check_account(account: lockout.AccountLedger, user: User,
                         challenge: Challenge) -> None:
    """The slot is held: the account must still be the challenge's, active, same password."""
    if user.id != challenge.user_id or user.credential_version != challenge.version:
        await account.release()
        raise InvalidMfaToken()
    if not user.is_active:
        await account.release()
        raise AccountDeactivated()


async def _check_factor(db: Any, config: Config, mailer: Any, account: lockout.AccountLedger,
                        user: User, hashed: str, code: str | None, recovery_code: str | None,
                        clock: Clock, *, user_agent: str | None, ip: str | None,
                        audit: Audit) -> Started:
    factors = await user_mfa.find(db, user.id)
    secret, step = _matching(config, user, factors, code, clock)
    recovery = totp_codes.recovery_hash(recovery_code) if recovery_code else None
    if step is None and recovery is None:
        await _wrong(account, clock, audit, "wrong_code")
    if not await mfa_challenges.consume(db, hashed, clock()):
        await account.release()  # a racing request completed (or it just expired)
        raise InvalidMfaToken()
    left = None
    if step is not None and secret is not None:
        used = await user_mfa.use_step(db, user.id, secret, step)
    else:
        left = await user_mfa.use_recovery_code(db, user.id, str(recovery))
        used = left is not None
    if not used:
        await _wrong(account, clock, audit, "replayed_code" if step is not None
                     else "wrong_recovery_code")
    started = await auth.start_signed_in(db, config, account, user, clock, list(OTP_AMR),
                                         user_agent=user_agent, ip=ip, audit=audit)
    if left is not None:
        await mailer.send(recovery_code_used_notice(user.email, left))
        audit.event("recovery_code_used", level=logging.WARNING, userId=user.id, left=left)
    return started


def _matching(config: Config, user: User, factors: Factors, code: str | None,
              clock: Clock) -> tuple[str | None, int | None]:
    """The stored secret and the unused step `code` is for, or (secret, None)."""
    if not code or factors.totp_secret is None:
        return factors.totp_secret, None
    secret = totp_codes.decrypt(config, user.id, factors.totp_secret)
    step = totp_codes.matching_step(secret, code, clock())
    if step is None or step <= factors.totp_last_step:  # a code is accepted once
        return factors.totp_secret, None
    return factors.totp_secret, step


async def _wrong(account: lockout.AccountLedger, clock: Clock, audit: Audit,
                 reason: str) -> NoReturn:
    await lockout.settle_failure(account, clock, audit, reason)
    raise InvalidMfaCode()
