"""How and when a session's user authenticated: the `amr` and `auth_time` of its access
tokens, kept across refreshes at no extra database work.

A session started by a password alone needs no record: `amr` is ["pwd"] and `auth_time`
the session's start, which its id (an ObjectId) carries. A sign-in with a second factor,
and a re-authentication, are recorded on the user document (`sessionAuth`), which every
refresh and every authenticated request reads anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId

from models import user_mfa
from models.users import User

PASSWORD_AMR = ("pwd",)
OTP_AMR = ("pwd", "otp")  # RFC 8176: password, then a one-time password (or recovery code)


@dataclass(frozen=True, slots=True)
class AuthContext:
    amr: tuple[str, ...]
    auth_time: datetime


def of_session(user: User, session_id: str) -> AuthContext:
    """How `session_id` of `user` (as read from the database) authenticated."""
    found = user.session_auth.get(session_id)
    if found:
        return AuthContext(tuple(found["amr"]), found["at"])
    return AuthContext(PASSWORD_AMR, ObjectId(session_id).generation_time)


async def record(db: Any, user: User, session_id: str, amr: Sequence[str],
                 now: datetime) -> None:
    """Remember that `session_id` of `user` (as read after the session was added, or later)
    authenticated now with `amr`; records of sessions no longer live are dropped."""
    stale = [sid for sid in user.session_auth
             if sid != session_id and sid not in user.active_sessions]
    await user_mfa.record_session_auth(db, user.id, session_id, list(amr), now, stale)
