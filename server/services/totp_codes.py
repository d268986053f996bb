"""TOTP and recovery-code primitives: secrets (encrypted at rest), codes, the QR code.

RFC 6238 with pyotp: 6 digits, 30 s steps, SHA-1 (what every authenticator app reads from
an otpauth URI). A code matches when it is the code of the current step or of one step
either side (clock drift); the caller then marks that step used, so a code is accepted once.
Secrets are stored as AES-GCM ciphertexts under a key derived from security.mfa_key (or,
when empty, jwt.secret), with the user id as associated data: a ciphertext copied onto
another user does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
from datetime import datetime

import pyotp
import segno
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.core.config import Config

ISSUER = "Gatehouse"
DRIFT_STEPS = 1  # one step (30 s) either side
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a printed sheet
_NONCE_BYTES = 12


def _key(config: Config) -> bytes:
    material = config.security.mfa_key or config.jwt.secret
    return hmac.new(material.encode("utf-8"), b"gatehouse.totp-secret.v1",
                    hashlib.sha256).digest()


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32()


def encrypt(config: Config, user_id: str, secret: str) -> str:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(_key(config)).encrypt(nonce, secret.encode("ascii"), user_id.encode())
    return base64.b64encode(nonce + sealed).decode("ascii")


def decrypt(config: Config, user_id: str, stored: str) -> str:
    """The secret sealed by `encrypt` for this user. Raises ValueError (InvalidTag) when the
    key changed or the ciphertext is not this user's."""
    raw = base64.b64decode(stored)
    opened = AESGCM(_key(config)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:],
                                          user_id.encode())
    return opened.decode("ascii")


def otpauth_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as a standalone SVG QR code (made by segno)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False)
    return out.getvalue().decode("utf-8")


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code `code` is, within DRIFT_STEPS of `now`; None otherwise.
    Every candidate is compared in constant time."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def new_recovery_codes() -> list[str]:
    """Ten codes of 10 characters (~50 bits each), shown as `xxxxx-xxxxx`."""
    return ["-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(2))
            for _ in range(RECOVERY_CODES)]


def recovery_hash(code: str) -> str:
    """SHA-256 of a recovery code as typed, ignoring case, spaces and dashes: high-entropy
    codes need no slow hash, and only this is stored."""
    canonical = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(f"gatehouse.recovery.v1:{canonical}".encode()).hexdigest()
