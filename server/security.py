"""Credentials and tokens: bcrypt off the event loop, access JWTs, opaque refresh/mail tokens.

Passwords are pre-hashed before bcrypt: bcrypt reads only the first 72 bytes of its input, so
a long (or multi-byte Unicode) password would be silently truncated. We feed bcrypt
base64(HMAC-SHA256(PREHASH_KEY, utf8(password))), 44 ASCII bytes with no NUL, so every
character of a password up to 128 characters counts. The key is a fixed domain separator, not
a secret: changing it would invalidate every stored hash.

Passwords are normalised to Unicode NFC before hashing and before checking (NIST SP 800-63B
5.1.1.2), so "é" typed precomposed or as "e" + combining accent is the same password. Hashes
stored before that were made from the password as typed: when the NFC form differs and does
not match, the typed form is checked too (match_password says RAW, and login rehashes).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import threading
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import bcrypt
import jwt

from server.core.config import JwtConfig
from server.core.errors import InvalidToken, TokenExpired
from server.signing.ring import KeyRing, KeySet, SigningKey, static_ring

PREHASH_KEY = b"gatehouse.password.v1"
_REQUIRED_CLAIMS = ["sub", "email", "role", "sid", "jti", "iat", "exp", "iss", "aud"]
# User and session ids as we issue them: str(ObjectId), 24 lower-case hex digits.
_ID = re.compile(r"[0-9a-f]{24}")
# Whole seconds on both sides: a token may look a second longer-lived or younger than exact.
_CLOCK_LEEWAY_S = 1

# bcrypt is CPU-bound and releases the GIL: a pool sized to the cores runs hashes in parallel
# without starving the event loop. It is a per-process CPU resource (created lazily, so after
# the supervisor forks), not configuration or a client, hence module level.
_pool: ThreadPoolExecutor | None = None
_dummy_hashes: dict[int, bytes] = {}


def _executor() -> ThreadPoolExecutor:
    global _pool  # lazily created process-wide pool, see above
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2,
                                   thread_name_prefix="bcrypt", initializer=_yield_to_loop)
    return _pool


# Hashing threads run this much nicer than the event loop, which then wins the CPU whenever
# it has work: /health and token checks stay in the low milliseconds while logins saturate
# every core (bench/RESULTS.md); idle CPU still goes to hashing, so login throughput holds.
_BCRYPT_NICER_BY = 10


def _yield_to_loop() -> None:
    # On Linux the nice value is per thread (a new thread inherits its creator's, the loop's):
    # this lowers the pool thread only.
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        nice = os.getpriority(os.PRIO_PROCESS, tid) + _BCRYPT_NICER_BY
        os.setpriority(os.PRIO_PROCESS, tid, min(nice, 19))


def _prehash(password: str) -> bytes:
    digest = hmac.new(PREHASH_KEY, password.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest)


def _nfc(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def _hash_sync(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(_nfc(password)), bcrypt.gensalt(rounds)).decode("ascii")


def _checkpw(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
    except ValueError:  # a malformed stored hash never verifies
        return False


class Match(Enum):
    NONE = "none"
    NFC = "nfc"  # the normalised password matched
    RAW = "raw"  # only the password as typed matched: a hash from before normalisation


def _match_sync(password: str, hashed: str) -> Match:
    normalised = _nfc(password)
    if _checkpw(normalised, hashed):
        return Match.NFC
    # The fallback costs a second bcrypt only for passwords that NFC changes; the dummy
    # check of an unknown email runs this same function, so both take the same time.
    if normalised != password and _checkpw(password, hashed):
        return Match.RAW
    return Match.NONE


async def hash_password(password: str, rounds: int) -> str:
    """The bcrypt hash (cost `rounds`) of the pre-hashed password, computed in the pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), _hash_sync, password, rounds)


async def match_password(password: str, hashed: str | None, rounds: int) -> Match:
    """How `password` matches `hashed` (Match.RAW: rehash it). With no hash (unknown email) a
    dummy hash of the same cost is checked instead, so both failures take the same time."""
    loop = asyncio.get_running_loop()
    if hashed is None:
        dummy = _dummy_hashes.get(rounds)
        if dummy is None:
            dummy = _dummy_hashes[rounds] = (
                await hash_password(secrets.token_urlsafe(16), rounds)).encode("ascii")
        await loop.run_in_executor(_executor(), _match_sync, password, dummy.decode("ascii"))
        return Match.NONE
    return await loop.run_in_executor(_executor(), _match_sync, password, hashed)


async def verify_password(password: str, hashed: str | None, rounds: int) -> bool:
    """True when `password` matches `hashed` (see match_password)."""
    return await match_password(password, hashed, rounds) is not Match.NONE


def needs_rehash(hashed: str, rounds: int) -> bool:
    """True when a stored hash was made with another cost than security.bcrypt_rounds."""
    parts = hashed.split("$")
    return len(parts) < 4 or parts[2] != f"{rounds:02d}"


def token_hash(token: str) -> str:
    """SHA-256 hex of a high-entropy token: what the database stores instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def address_digest(secret: str, address: str) -> str:
    """A keyed SHA-256 (HMAC, key `secret`) of a canonical email address, to count failed
    logins on an address without storing it: a plain hash of a guessable address is undone
    by hashing guesses."""
    message = b"gatehouse.login-failures.v1:" + address.encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def new_token() -> str:
    """A fresh opaque, URL-safe token (256 bits) for mail links and refresh seeds."""
    return secrets.token_urlsafe(32)


def next_refresh_secret(refresh_secret: str, token: str) -> str:
    """The successor of a refresh token: HMAC-SHA256 keyed by jwt.refresh_secret.

    Deterministic so that requests racing with the same token within the reuse grace all
    receive the same current token, while the database still holds only hashes."""
    mac = hmac.new(refresh_secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value (scheme in any case),
    else None. The one parser: the rate limiter and authentication both use it."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    email: str
    role: str
    session_id: str
    token_id: str
    expires_at: int
    issued_at: int


def create_access_token(cfg: JwtConfig, *, user_id: str, email: str, role: str,
                        session_id: str, now: datetime, amr: list[str] | None = None,
                        auth_time: datetime | None = None, key: SigningKey | None = None) -> str:
    """An access JWT for one session, valid for jwt.access_ttl from `now`, signed by `key`
    (the worker KeyRing's current key; without one, jwt.secret under HS256) and naming it in
    its `kid` header. `amr` (RFC 8176 method names) and `auth_time` (the sign-in, kept across
    refreshes) say how and when the user authenticated (issue 16)."""
    if key is None:
        ring, keys = static_ring(cfg)
        key = ring.signing_key(keys, now)
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "sub": user_id, "email": email, "role": role, "sid": session_id,
        "jti": uuid.uuid4().hex, "iat": issued,
        "exp": issued + int(cfg.access_ttl.total_seconds()),
        "iss": cfg.issuer, "aud": cfg.audience}
    if amr is not None:
        claims["amr"] = list(amr)
    if auth_time is not None:
        claims["auth_time"] = int(auth_time.timestamp())
    return jwt.encode(claims, key.key, algorithm=key.alg, headers={"kid": key.kid})


def decode_access_token(cfg: JwtConfig, token: str, now: datetime, *,
                        ring: KeyRing | None = None, keys: KeySet | None = None) -> AccessClaims:
    """Verify signature, algorithm, issuer, audience, claim shapes, lifetime and expiry
    (against the app clock). Only jwt.algorithm, only a key of `keys` chosen by the token's
    `kid` (see KeyRing.verification_key). Raises TokenExpired, or InvalidToken for anything
    else. A token verified before is taken from the ring's cache (expiry checked again)."""
    if ring is None or keys is None:
        ring, keys = static_ring(cfg)
    cached = ring.cache.get(token, now.timestamp(), keys.verifying)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    try:
        kid, key = ring.verification_key(keys, jwt.get_unverified_header(token))
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[ring.alg], audience=cfg.audience,
            issuer=cfg.issuer,
            # exp/iat/nbf are checked below, strictly and against the app clock.
            options={"require": _REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False,
                     "verify_nbf": False})
    except jwt.InvalidTokenError:
        raise InvalidToken() from None
    fields = (claims["sub"], claims["email"], claims["role"], claims["sid"], claims["jti"])
    if not all(isinstance(value, str) for value in fields) \
            or not (_ID.fullmatch(claims["sub"]) and _ID.fullmatch(claims["sid"])):
        raise InvalidToken()
    expires = _check_times(cfg, claims, now.timestamp())
    verified = AccessClaims(*fields, expires_at=expires, issued_at=claims["iat"])
    ring.cache.put(token, verified, kid, expires)
    return verified


def _check_times(cfg: JwtConfig, claims: dict[str, Any], now: float) -> int:
    """The expiry of a token whose time claims are whole JSON numbers (not 1e30, "123" or
    true), issued (and valid from) no later than now, living no longer than jwt.access_ttl.
    Raises InvalidToken, or TokenExpired once it has expired."""
    names = ("exp", "iat", "nbf") if "nbf" in claims else ("exp", "iat")
    # type() rather than isinstance(): bool is an int subclass, and true is no timestamp.
    if any(type(claims[name]) is not int for name in names):
        raise InvalidToken()
    expires, issued = claims["exp"], claims["iat"]
    valid_from = max(issued, claims.get("nbf", issued))
    if expires - issued > cfg.access_ttl.total_seconds() + _CLOCK_LEEWAY_S \
            or valid_from > now + _CLOCK_LEEWAY_S:
        raise InvalidToken()
    if expires <= now:
        raise TokenExpired()
    return int(expires)
