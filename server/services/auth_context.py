"""How and when a session's user authenticated (`amr`, `auth_time` of its access tokens),
recorded at sign-in and read back when a refresh mints a new access token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models import session_auth, sessions
from server.core.config import Config
from server.services.sessions import Started

PASSWORD_AMR = ("pwd",)
OTP_AMR = ("pwd", "otp")  # RFC 8176: password, then a one-time password (or recovery code)


@dataclass(frozen=True, slots=True)
class AuthContext:
    amr: tuple[str, ...]
    auth_time: datetime


async def record(db: Any, config: Config, started: Started, amr: Sequence[str],
                 now: datetime) -> None:
    """Remember that `started`'s session signed in now with `amr`."""
    await record_session(db, config, started.session_id, started.user.id, amr, now)


async def record_session(db: Any, config: Config, session_id: str, user_id: str,
                         amr: Sequence[str], now: datetime) -> None:
    """Remember that session `session_id` (re)authenticated now with `amr`."""
    await session_auth.record(db, session_id, user_id, list(amr), now,
                              now + config.jwt.refresh_ttl)


async def of_session(db: Any, config: Config, session_id: str, now: datetime) -> AuthContext:
    """What a refreshed access token of `session_id` says: the recorded sign-in, or for a
    session with no record (registered, or started before records were kept) a password
    sign-in at the session's start. The record's lifetime follows the session's."""
    found = await session_auth.find(db, session_id)
    if found is None:
        session = await sessions.find_session(db, session_id)
        return AuthContext(PASSWORD_AMR, session.created_at if session else now)
    # Extend only once half the refresh lifetime has passed: one write in many refreshes.
    if found.expires_at - now < config.jwt.refresh_ttl / 2:
        await session_auth.extend(db, session_id, now + config.jwt.refresh_ttl)
    return AuthContext(found.amr, found.auth_time)
