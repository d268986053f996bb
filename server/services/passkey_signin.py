"""Signing in with a passkey: as the second factor of a password sign-in (options bound to
the `mfaToken`, the assertion then completes POST /auth/mfa/verify), and passwordless
(discoverable credentials: the authenticator picks the account, its userHandle names it).

Both run under the login's lockout slot (server/services/lockout.py), so a locked account
stays locked and the sign-in starts with the login's own code (auth.start_signed_in). What
is used up, each by one conditional write: the ceremony's challenge (before the answer is
trusted), the mfaToken, then the passkey's counter (moved only from the value checked).
"""

from __future__ import annotations

import secrets
from typing import Any

from models import mfa_challenges, user_passkeys, users
from models.user_passkeys import Passkey
from models.users import User
from server.core.config import Config
from server.core.errors import AccountDeactivated
from server.core.factor_errors import InvalidMfaToken, InvalidPasskey
from server.observability.audit import Audit
from server.security import token_hash
from server.services import auth, lockout, webauthn_rp
from server.services.lockout import Clock
from server.services.sessions import Started


async def mfa_options(db: Any, config: Config, token: str, clock: Clock) -> dict[str, Any]:
    """Request options for the passkeys of the challenge's user, bound to that mfaToken.
    Raises InvalidMfaToken (unknown, used, expired, or the user has no passkey)."""
    hashed = token_hash(token)
    challenge = await mfa_challenges.find_live(db, hashed, clock())
    keys = await user_passkeys.find_all(db, challenge.user_id) if challenge else []
    if challenge is None or not keys:
        raise InvalidMfaToken()
    return await webauthn_rp.authentication_options(
        db, config.webauthn, "mfa", [k.id for k in keys], clock(), user_id=challenge.user_id,
        mfa_hash=hashed)


async def passwordless_options(db: Any, config: Config, clock: Clock) -> dict[str, Any]:
    return await webauthn_rp.authentication_options(db, config.webauthn, "passwordless", [],
                                                    clock())


async def checked(db: Any, config: Config, user: User, credential: dict[str, Any],
                   challenge: bytes, *, require_uv: bool) -> tuple[Passkey, Any]:
    """The user's passkey the assertion names, and the verified assertion. Raises Refused."""
    passkey = await user_passkeys.find(db, user.id, str(credential.get("id", "")))
    if passkey is None:  # not this account's credential
        raise webauthn_rp.Refused()
    return passkey, webauthn_rp.check_assertion(config.webauthn, credential, challenge,
                                                passkey.public_key, passkey.sign_count,
                                                require_uv=require_uv)


async def second_factor(db: Any, config: Config, account: lockout.AccountLedger, user: User,
                        hashed: str, credential: dict[str, Any], clock: Clock, *,
                        user_agent: str | None, ip: str | None, audit: Audit) -> Started:
    """With the slot held on the challenge's (checked) user: verify the assertion, use up the
    ceremony's challenge and the mfaToken, start the session. A refused assertion is settled
    as a failure, like a wrong code. Raises InvalidPasskey or InvalidMfaToken."""
    try:
        challenge = webauthn_rp.challenge_of(credential)
        # Replayed, expired, or another sign-in's: refused.
        await webauthn_rp.use_up(db, challenge, "mfa", clock(), user_id=user.id,
                                 mfa_hash=hashed)
        passkey, verified = await checked(db, config, user, credential, challenge,
                                           require_uv=False)
    except webauthn_rp.Refused:
        await lockout.settle_failure(account, clock, audit, "wrong_passkey")
        raise InvalidPasskey() from None
    if not await mfa_challenges.consume(db, hashed, clock()):
        await account.release()  # a racing request completed (or it just expired)
        raise InvalidMfaToken()
    if not await user_passkeys.use(db, user.id, passkey.id, passkey.sign_count,
                                   verified.new_sign_count, clock()):
        await lockout.settle_failure(account, clock, audit, "passkey_counter")
        raise InvalidPasskey()
    amr = ("pwd", webauthn_rp.amr_of(passkey.device_type))
    return await auth.start_signed_in(db, config, account, user, clock, amr,
                                      user_agent=user_agent, ip=ip, audit=audit)


def _account_of(credential: dict[str, Any]) -> str:
    """The user id the authenticator's userHandle names (its 12 bytes). Raises Refused."""
    try:
        handle = webauthn_rp.unb64url(str(credential["response"]["userHandle"]))
    except webauthn_rp.BAD_ANSWER as exc:
        raise webauthn_rp.Refused() from exc
    if len(handle) != 12:
        raise webauthn_rp.Refused()
    return handle.hex()


async def passwordless(db: Any, config: Config, mailer: Any, credential: dict[str, Any],
                       clock: Clock, *, user_agent: str | None, ip: str | None,
                       audit: Audit) -> Started:
    """Sign in with a discoverable passkey alone (user verification required). A refused
    assertion is not counted toward the lockout (a signature cannot be guessed, and anyone
    could name the account), but a locked account stays locked. Raises InvalidPasskey,
    AccountLocked, AccountDeactivated."""
    try:
        challenge = webauthn_rp.challenge_of(credential)
        user_id = _account_of(credential)
        await webauthn_rp.use_up(db, challenge, "passwordless", clock())
    except webauthn_rp.Refused:
        lockout.failed(audit, None, "wrong_passkey")
        raise InvalidPasskey() from None
    user = await users.find_by_id(db, user_id)
    if user is None:
        raise InvalidPasskey()
    account = lockout.AccountLedger(db, user.email, secrets.token_hex(8), config.security,
                                    mailer)
    async with lockout.released_if_dead(account):
        if not await lockout.take_slot(account, clock, config, audit):
            raise InvalidPasskey()  # the account is gone
        if account.user is None or account.user.id != user_id:  # its address moved on
            await account.release()
            raise InvalidPasskey()
        return await _passwordless_signed(db, config, account, account.user, credential,
                                          challenge, clock, user_agent=user_agent, ip=ip,
                                          audit=audit)


async def _passwordless_signed(db: Any, config: Config, account: lockout.AccountLedger,
                               user: User, credential: dict[str, Any], challenge: bytes,
                               clock: Clock, *, user_agent: str | None, ip: str | None,
                               audit: Audit) -> Started:
    try:
        passkey, verified = await checked(db, config, user, credential, challenge,
                                           require_uv=True)
    except webauthn_rp.Refused:
        await account.release()
        lockout.failed(audit, user.id, "wrong_passkey")
        raise InvalidPasskey() from None
    if not user.is_active:  # only after the passkey verified: nothing is told to others
        await account.release()
        lockout.failed(audit, user.id, "deactivated")
        raise AccountDeactivated()
    if not await user_passkeys.use(db, user.id, passkey.id, passkey.sign_count,
                                   verified.new_sign_count, clock()):
        await account.release()
        lockout.failed(audit, user.id, "passkey_counter")
        raise InvalidPasskey()
    return await auth.start_signed_in(db, config, account, user, clock,
                                      (webauthn_rp.amr_of(passkey.device_type),),
                                      user_agent=user_agent, ip=ip, audit=audit)
