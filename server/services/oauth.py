"""Token introspection (RFC 7662) and revocation (RFC 7009): what a service may learn about a
Gatehouse token, and how a holder ends the session its token belongs to.

A token is looked up as an access token (signature, algorithm, issuer, audience, expiry, then
the session still live and the user active) and as a refresh token (the session's current
one, looked up without rotating it); `token_type_hint` only says which to try first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.users import User
from server.core.config import Config, JwtConfig
from server.core.errors import AppError
from server.observability.audit import Audit
from server.security import AccessClaims, decode_access_token
from server.services import sessions
from server.signing import KeyRing, KeySet

ACCESS = "access_token"
REFRESH = "refresh_token"


@dataclass(frozen=True, slots=True)
class Verifier:
    """The worker's key ring and its current key set: what an access token is checked with."""

    ring: KeyRing
    keys: KeySet


@dataclass(frozen=True, slots=True)
class Holding:
    """A live token: whose, which session, what kind, and its lifetime (Unix seconds)."""

    user: User
    session_id: str
    token_type: str
    issued_at: int
    expires_at: int


def verify_access(cfg: JwtConfig, verifier: Verifier, token: str,
                  now: datetime) -> AccessClaims | None:
    """The claims of a valid access token, else None. The one place these routes verify an
    access token: server.security.decode_access_token decides."""
    try:
        return decode_access_token(cfg, token, now, ring=verifier.ring, keys=verifier.keys)
    except AppError:
        return None


async def _as_access(db: Any, config: Config, verifier: Verifier, token: str,
                     now: datetime) -> Holding | None:
    claims = verify_access(config.jwt, verifier, token, now)
    if claims is None:
        return None
    user = await sessions.live_user(db, claims.user_id, claims.session_id)
    if user is None:
        return None
    return Holding(user, claims.session_id, ACCESS, claims.issued_at, claims.expires_at)


async def _as_refresh(db: Any, config: Config, verifier: Verifier, token: str,
                      now: datetime) -> Holding | None:
    found = await sessions.find_by_refresh_token(db, token, now)
    if found is None:
        return None
    session, user = found
    # The current token was issued at the session's start or at its last rotation.
    issued = session.rotated_at or session.created_at
    return Holding(user, session.id, REFRESH, int(issued.timestamp()),
                   int(session.expires_at.timestamp()))


async def find_holding(db: Any, config: Config, verifier: Verifier, token: str,
                       hint: str | None, now: datetime) -> Holding | None:
    """The live access or refresh token `token`, or None (expired, ended session, inactive
    user, rotated, unknown, malformed). The hint orders the two lookups, nothing more."""
    looks = (_as_refresh, _as_access) if hint == REFRESH else (_as_access, _as_refresh)
    for look in looks:
        found = await look(db, config, verifier, token, now)
        if found is not None:
            return found
    return None


async def introspect(db: Any, config: Config, verifier: Verifier, token: str,
                     hint: str | None, now: datetime) -> dict[str, Any]:
    """RFC 7662's answer: the claims of a live token, else only `{"active": False}`."""
    found = await find_holding(db, config, verifier, token, hint, now)
    if found is None:
        return {"active": False}
    return {"active": True, "sub": found.user.id, "sid": found.session_id,
            "exp": found.expires_at, "iat": found.issued_at, "iss": config.jwt.issuer,
            "aud": config.jwt.audience, "token_type": found.token_type}


async def revoke(db: Any, config: Config, verifier: Verifier, token: str, hint: str | None,
                 now: datetime, audit: Audit) -> None:
    """End the session a live token belongs to; nothing for any other token (RFC 7009 2.2:
    the answer is the same either way)."""
    found = await find_holding(db, config, verifier, token, hint, now)
    if found is not None:
        await sessions.end_session_of(db, found.user, found.session_id, audit,
                                      reason=f"revoked_{found.token_type}")
