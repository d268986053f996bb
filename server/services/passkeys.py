"""Managing a signed-in user's passkeys: registration (options, then the authenticator's
answer), list, rename, removal; adding and removing need a recent authentication.

A passkey outlives sessions and passwords (a password reset does not remove it), so adding
one is as sensitive as removing one: both need the session to have signed in within
security.reauth_window, or the current password in the request (and, for an account with
a factor, a code or a passkey assertion: what server/services/step_up.py asks of any
sensitive change).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models import user_passkeys
from models.user_passkeys import Passkey
from models.users import User
from server.core.config import Config
from server.core.factor_errors import (
    PasskeyChallengeInvalid,
    PasskeyLimitReached,
    PasskeyNotFound,
    PasskeyRejected,
)
from server.mail.messages import passkey_added_notice, passkey_removed_notice
from server.observability.audit import Audit
from server.services import step_up, webauthn_rp
from server.services.lockout import Clock

DEFAULT_NAME = "Passkey"
# They live on the user document, which every request reads: a bound keeps it small.
MAX_PASSKEYS = 10


async def require_recent(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                         current_password: str | None, code: str | None, clock: Clock,
                         audit: Audit, action: str, *,
                         passkey: dict[str, Any] | None = None) -> None:
    """Adding or removing a passkey: a session authenticated within security.reauth_window,
    or the right current password (plus a code or a passkey assertion for an account with
    a factor), checked under the lockout as an admin's step-up is. Raises ReauthRequired,
    CurrentPasswordIncorrect, MfaCodeIncorrect, PasskeyRejected or AccountLocked."""
    await step_up.require_admin(db, config, mailer, user, session_id, current_password, code,
                                clock, audit, action, passkey=passkey)


async def registration_options(db: Any, config: Config, user: User,
                               now: datetime) -> dict[str, Any]:
    existing = [p.id for p in await user_passkeys.find_all(db, user.id)]
    if len(existing) >= MAX_PASSKEYS:
        raise PasskeyLimitReached()
    return await webauthn_rp.registration_options(db, config.webauthn, user.id, user.email,
                                                  user.full_name, existing, now)


async def register(db: Any, config: Config, mailer: Any, user: User, credential: dict[str, Any],
                   name: str | None, now: datetime, audit: Audit) -> Passkey:
    """Verify the authenticator's answer to this user's registration challenge (used up
    first) and store the passkey. Raises PasskeyChallengeInvalid, PasskeyRejected,
    PasskeyLimitReached (checked before the write: racing registrations may pass it
    together, each needing a ceremony of its own)."""
    try:
        challenge = webauthn_rp.challenge_of(credential)
    except webauthn_rp.Refused:
        raise PasskeyRejected() from None
    if not await webauthn_rp.consume(db, challenge, "register", now, user_id=user.id):
        raise PasskeyChallengeInvalid()
    try:
        made = webauthn_rp.check_registration(config.webauthn, credential, challenge)
    except webauthn_rp.Refused:
        audit.event("passkey_register_failed", userId=user.id)
        raise PasskeyRejected() from None
    if user.passkeys >= MAX_PASSKEYS:
        raise PasskeyLimitReached()
    credential_id = webauthn_rp.b64url(made.credential_id)
    label = name or DEFAULT_NAME
    if not user_passkeys.CREDENTIAL_ID.match(credential_id) or not await user_passkeys.add(
            db, user.id, credential_id, made.credential_public_key, made.sign_count, label,
            made.credential_device_type.value, made.credential_backed_up, made.aaguid, now):
        raise PasskeyRejected()  # registered already (or an id out of the spec's range)
    await mailer.send(passkey_added_notice(user.email, label))
    audit.event("mfa_factor_added", userId=user.id, factor="passkey")
    found = await user_passkeys.find(db, user.id, credential_id)
    assert found is not None  # noqa: S101 - just written by this request
    return found


async def rename(db: Any, user: User, credential_id: str, name: str, now: datetime) -> None:
    if not user_passkeys.CREDENTIAL_ID.match(credential_id) \
            or not await user_passkeys.rename(db, user.id, credential_id, name, now):
        raise PasskeyNotFound()


async def remove(db: Any, mailer: Any, user: User, credential_id: str, now: datetime,
                 audit: Audit) -> None:
    found = await user_passkeys.find(db, user.id, credential_id)
    if found is None or not await user_passkeys.remove(db, user.id, credential_id, now):
        raise PasskeyNotFound()
    await mailer.send(passkey_removed_notice(user.email, found.name))
    audit.event("mfa_factor_removed", userId=user.id, factor="passkey")


async def list_of(db: Any, user: User) -> list[Passkey]:
    return await user_passkeys.find_all(db, user.id)
