"""A passkey as the step-up factor (issue 16 item 5): request options for the signed-in
user's passkeys, and checking the assertion under the lockout slot step_up holds.

The challenge (purpose "reauth") is bound to the user AND the session that asked for it, so
an assertion made for another account's or another session's step-up is refused; it is
used up by one conditional delete before the answer is trusted (a replay is refused), and
the passkey's counter moves only from the value checked. A refused assertion is settled as
a failed attempt, like a wrong code: a stolen access token buys no unlimited guesses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models import user_passkeys
from models.users import User
from server.core.config import Config
from server.core.factor_errors import InvalidPasskey, PasskeyNotFound
from server.observability.audit import Audit
from server.services import lockout, passkey_signin, webauthn_rp
from server.services.lockout import Clock

PURPOSE = "reauth"


async def options(db: Any, config: Config, user: User, session_id: str,
                  now: datetime) -> dict[str, Any]:
    """Request options allowing the user's passkeys, for this session's step-up. Raises
    PasskeyNotFound (the user has none)."""
    keys = await user_passkeys.find_all(db, user.id)
    if not keys:
        raise PasskeyNotFound()
    return await webauthn_rp.authentication_options(
        db, config.webauthn, PURPOSE, [k.id for k in keys], now, user_id=user.id,
        session_id=session_id)


async def check(db: Any, config: Config, account: lockout.AccountLedger, user: User,
                session_id: str, credential: dict[str, Any], clock: Clock, audit: Audit,
                action: str) -> str:
    """With the slot held on `user`: use up the session's challenge, verify the assertion
    with the user's passkey, move its counter. The amr it earns (hwk or swk). A refusal is
    settled as a failure; raises InvalidPasskey."""
    try:
        challenge = webauthn_rp.challenge_of(credential)
        await webauthn_rp.use_up(db, challenge, PURPOSE, clock(), user_id=user.id,
                                 session_id=session_id)
        passkey, verified = await passkey_signin.checked(db, config, user, credential,
                                                         challenge, require_uv=False)
    except webauthn_rp.Refused:
        await lockout.settle_failure(account, clock, audit, f"{action}_wrong_passkey")
        raise InvalidPasskey() from None
    if not await user_passkeys.use(db, user.id, passkey.id, passkey.sign_count,
                                   verified.new_sign_count, clock()):
        await lockout.settle_failure(account, clock, audit, f"{action}_passkey_counter")
        raise InvalidPasskey()
    return webauthn_rp.amr_of(passkey.device_type)
