"""The second-factor step of a sign-in: after the right password, an account with a factor
gets a challenge (an `mfaToken`) instead of a session.

The token (256 bits) is returned once; only its hash is stored, with the user and the
credentialVersion seen at the password check, so a password change or reset in between
voids it. It lives MFA_TOKEN_TTL and is used up by the sign-in it completes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from models import mfa_challenges
from models.users import User
from server.observability.audit import Audit
from server.security import new_token, token_hash
from server.services import lockout

MFA_TOKEN_TTL = timedelta(minutes=5)
TOTP_FACTORS = ("totp", "recovery_code")  # what POST /auth/mfa/verify accepts
PASSKEY_FACTOR = "passkey"  # an assertion, after POST /auth/mfa/passkeys/authenticate/options


@dataclass(frozen=True, slots=True)
class MfaChallenge:
    """What login answers when a second factor is due: no session, no tokens yet."""

    mfa_token: str
    factors: list[str]
    expires_at: datetime


def has_factor(user: User) -> bool:
    """Whether signing in as `user` takes a second factor after the password."""
    return user.mfa_totp or user.passkeys > 0


async def challenge(db: Any, account: lockout.AccountLedger, user: User,
                    now: datetime, audit: Audit) -> MfaChallenge | None:
    """With the right password checked and its attempt slot held: None when `user` has no
    second factor (the sign-in goes on), else a new challenge. The slot is given back
    uncounted, but the failures are NOT forgotten: only a completed sign-in resets them, or
    the password alone would buy unlimited code guesses."""
    if not has_factor(user):  # read with the slot: no extra database work
        return None
    token = new_token()
    expires = now + MFA_TOKEN_TTL
    await mfa_challenges.insert(db, token_hash(token), user.id, user.credential_version, now,
                                expires)
    await account.release()
    audit.event("mfa_challenge_issued", userId=user.id)
    factors = [*(TOTP_FACTORS if user.mfa_totp else ()),
               *((PASSKEY_FACTOR,) if user.passkeys else ())]
    return MfaChallenge(token, factors, expires)
