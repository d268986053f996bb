"""The relying-party side of WebAuthn ceremonies, over the `webauthn` library: options with a
stored single-use challenge, reading the challenge back out of an answer, checking answers
against `webauthn.rp_id` and `webauthn.origins`, and the `amr` a passkey earns.

A challenge is 32 random bytes; only its SHA-256 is stored (models/webauthn_challenges.py)
with what it was handed out for. An answer carries the challenge in its signed
clientDataJSON: that is how a verify finds its ceremony (no extra id to send), and the
stored challenge is used up by one conditional delete before the answer is trusted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from models import webauthn_challenges
from server.core.config import WebAuthnConfig

CHALLENGE_TTL = timedelta(minutes=5)
CHALLENGE_BYTES = 32  # WebAuthn asks for at least 16 random bytes
TIMEOUT_MS = 300_000  # what the browser waits for the user: the challenge's lifetime
# RFC 8176: a device-bound key (never leaves its authenticator) is a hardware-secured key;
# a synced, backup-eligible passkey (its key copied through a cloud account) is software.
HARDWARE_KEY, SOFTWARE_KEY = "hwk", "swk"
# Anything a malformed answer makes the library or our parsing raise: a refused answer.
# RecursionError: json.loads of a deeply nested clientDataJSON (the body's depth limit does
# not see inside its base64url).
BAD_ANSWER = (WebAuthnException, ValueError, KeyError, TypeError, AttributeError,
              RecursionError)


class Refused(Exception):
    """The answer does not verify (no detail: the caller raises its own error)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def amr_of(device_type: str) -> str:
    return SOFTWARE_KEY if device_type == CredentialDeviceType.MULTI_DEVICE.value \
        else HARDWARE_KEY


async def _new_challenge(db: Any, purpose: str, now: datetime, **owner: str | None) -> bytes:
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    await webauthn_challenges.insert(db, _hash(challenge), purpose, now, now + CHALLENGE_TTL,
                                     **owner)
    return challenge


def _descriptors(ids: list[str]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=unb64url(cid)) for cid in ids]


async def registration_options(db: Any, config: WebAuthnConfig, user_id: str, email: str,
                               display: str, existing: list[str],
                               now: datetime) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptions (JSON) for a discoverable passkey of `user_id`; the
    user handle is the user id's 12 bytes (no personal data: the email is only the label)."""
    options = generate_registration_options(
        rp_id=config.rp_id, rp_name=config.rp_name, user_id=bytes.fromhex(user_id),
        user_name=email, user_display_name=display or email,
        challenge=await _new_challenge(db, "register", now, user_id=user_id),
        timeout=TIMEOUT_MS, exclude_credentials=_descriptors(existing),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED))
    return json.loads(options_to_json(options))  # type: ignore[no-any-return]


async def authentication_options(db: Any, config: WebAuthnConfig, purpose: str,
                                 allowed: list[str], now: datetime, *,
                                 user_id: str | None = None, mfa_hash: str | None = None,
                                 session_id: str | None = None) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptions (JSON): `allowed` credentials (empty: discoverable,
    the authenticator offers the accounts it holds for this site)."""
    options = generate_authentication_options(
        rp_id=config.rp_id, timeout=TIMEOUT_MS, allow_credentials=_descriptors(allowed),
        challenge=await _new_challenge(db, purpose, now, user_id=user_id, mfa_hash=mfa_hash,
                                       session_id=session_id),
        user_verification=UserVerificationRequirement.REQUIRED if purpose == "passwordless"
        else UserVerificationRequirement.PREFERRED)
    return json.loads(options_to_json(options))  # type: ignore[no-any-return]


def challenge_of(credential: dict[str, Any]) -> bytes:
    """The challenge an answer says it signs (its clientDataJSON). Raises Refused."""
    try:
        client_data = json.loads(unb64url(credential["response"]["clientDataJSON"]))
        return unb64url(client_data["challenge"])
    except BAD_ANSWER as exc:
        raise Refused() from exc


async def consume(db: Any, challenge: bytes, purpose: str, now: datetime,
                  **owner: str | None) -> bool:
    return await webauthn_challenges.consume(db, _hash(challenge), purpose, now, **owner)


async def use_up(db: Any, challenge: bytes, purpose: str, now: datetime,
                 **owner: str | None) -> None:
    """`consume`, raising Refused when the challenge is unknown, used, expired or another's."""
    if not await consume(db, challenge, purpose, now, **owner):
        raise Refused()


def check_registration(config: WebAuthnConfig, credential: dict[str, Any],
                       challenge: bytes) -> Any:
    """The verified registration (credential id, public key, counter...). Raises Refused."""
    try:
        return verify_registration_response(
            credential=credential, expected_challenge=challenge,
            expected_rp_id=config.rp_id, expected_origin=list(config.origins))
    except BAD_ANSWER as exc:
        raise Refused() from exc


def check_assertion(config: WebAuthnConfig, credential: dict[str, Any], challenge: bytes,
                    public_key: bytes, sign_count: int, *, require_uv: bool) -> Any:
    """The verified assertion (new counter, device type). The library refuses a counter that
    does not increase unless both are 0 (authenticators without one). Raises Refused."""
    try:
        return verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=config.rp_id,
            expected_origin=list(config.origins), credential_public_key=public_key,
            credential_current_sign_count=sign_count, require_user_verification=require_uv)
    except BAD_ANSWER as exc:
        raise Refused() from exc
