"""Managing a signed-in user's TOTP factor: setup, confirm (with recovery codes), new
recovery codes, removal; and what GET /users/me shows of the factors (never a secret).

Setup hands out a secret, stored encrypted as pending; only confirm, with a code from it,
makes it active, and from then on it is never returned again. Codes checked here also mark
their time step used, so the code that confirmed (or removed) cannot sign in afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from models import user_mfa as mfa
from models.users import User
from server.core.config import Config
from server.core.factor_errors import (
    MfaAlreadyEnabled,
    MfaCodeIncorrect,
    MfaNotEnabled,
    MfaSetupMissing,
)
from server.mail.messages import second_factor_added_notice, second_factor_removed_notice
from server.observability.audit import Audit
from server.services import totp_codes

PENDING_TTL = timedelta(minutes=10)  # a setup not confirmed by then must start over
FACTOR_NAME = "An authenticator app (TOTP)"


@dataclass(frozen=True, slots=True)
class Setup:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True, slots=True)
class FactorStatus:
    totp: bool
    recovery_codes_left: int
    passkeys: int = 0


async def use_code(db: Any, config: Config, user: User, secret: str, code: str,
                   now: datetime) -> bool:
    """Whether `code` is a current code of the stored (encrypted) `secret` not used before;
    its time step is marked used (one conditional write), so it is accepted once."""
    step = totp_codes.matching_step(totp_codes.decrypt(config, user.id, secret), code, now)
    return step is not None and await mfa.use_step(db, user.id, secret, step)


def status(user: User) -> FactorStatus:
    """What GET /users/me shows, from the user as read (no secret is on it)."""
    return FactorStatus(user.mfa_totp, user.recovery_codes_left, user.passkeys)


async def setup(db: Any, config: Config, user: User, now: datetime, audit: Audit) -> Setup:
    """A new secret, pending until confirmed (replacing an unconfirmed one). Raises
    MfaAlreadyEnabled while a TOTP is active."""
    secret = totp_codes.new_secret()
    if not await mfa.set_pending(db, user.id, totp_codes.encrypt(config, user.id, secret),
                                 now):
        raise MfaAlreadyEnabled()
    audit.event("mfa_setup_started", userId=user.id, factor="totp")
    uri = totp_codes.otpauth_uri(secret, user.email)
    return Setup(secret, uri, totp_codes.qr_svg(uri))


async def confirm(db: Any, config: Config, mailer: Any, user: User, code: str,
                  now: datetime, audit: Audit) -> list[str]:
    """Activate the pending secret with a code from it; the recovery codes (shown once).
    Raises MfaAlreadyEnabled, MfaSetupMissing (none pending, or too old), MfaCodeIncorrect."""
    factors = await mfa.find(db, user.id)
    if factors.totp:
        raise MfaAlreadyEnabled()
    pending = factors.pending_secret
    if pending is None or factors.pending_at is None or factors.pending_at + PENDING_TTL <= now:
        raise MfaSetupMissing()
    step = totp_codes.matching_step(totp_codes.decrypt(config, user.id, pending), code, now)
    if step is None:
        audit.event("mfa_confirm_failed", userId=user.id, factor="totp")
        raise MfaCodeIncorrect()
    codes = totp_codes.new_recovery_codes()
    hashes = [totp_codes.recovery_hash(c) for c in codes]
    if not await mfa.activate(db, user.id, pending, step, hashes, now):
        raise MfaSetupMissing()  # a racing confirm or a new setup won
    await mailer.send(second_factor_added_notice(user.email, FACTOR_NAME))
    audit.event("mfa_factor_added", userId=user.id, factor="totp")
    return codes


async def regenerate_recovery_codes(db: Any, user: User, now: datetime,
                                    audit: Audit) -> list[str]:
    """Ten new recovery codes; the old ones stop working. Raises MfaNotEnabled."""
    codes = totp_codes.new_recovery_codes()
    if not await mfa.replace_recovery_codes(
            db, user.id, [totp_codes.recovery_hash(c) for c in codes], now):
        raise MfaNotEnabled()
    audit.event("recovery_codes_regenerated", userId=user.id)
    return codes


async def remove(db: Any, mailer: Any, user: User, now: datetime, audit: Audit) -> None:
    """Turn TOTP off (and drop the recovery codes). The caller has checked the current
    password and a current code under the lockout (step_up.remove_totp). Raises
    MfaNotEnabled."""
    secret = (await mfa.find(db, user.id)).totp_secret
    if secret is None or not await mfa.remove_totp(db, user.id, secret, now):
        raise MfaNotEnabled()
    await mailer.send(second_factor_removed_notice(user.email, FACTOR_NAME))
    audit.event("mfa_factor_removed", userId=user.id, factor="totp")
