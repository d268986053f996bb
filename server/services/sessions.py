"""Session flows: start (with the per-user cap), refresh rotation with reuse detection, end.

A refresh token reads `<session id>.<user id>.<secret>` (or `<session id>.<secret>`, as issued
before the user id was carried). The first secret is random; each rotation's
successor is HMAC(jwt.refresh_secret, previous token) (server.security.next_refresh_secret).
Only SHA-256 hashes are stored. Presenting the token that was just rotated away:
  - within jwt.refresh_reuse_grace of the rotation: answers the current pair (concurrent
    tabs that raced with the same token all end up holding the same current token);
  - later, or any older rotated token: reuse, the whole session ends.
An unknown secret for a known session id is only `Invalid refresh token`: session ids are
not secret (they are in every access token), so they must not let anyone end a session.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId

from models import sessions, user_sessions, users
from models.sessions import Session
from models.users import User
from server.core.config import Config
from server.core.errors import (
    AccountDeactivated,
    BadCredentials,
    InvalidRefreshToken,
    SessionNotFound,
)
from server.observability.audit import Audit
from server.security import new_token, next_refresh_secret, token_hash


@dataclass(frozen=True, slots=True)
class Started:
    """A user with a live session and that session's refresh token."""

    user: User
    session_id: str
    refresh_token: str
    amr: tuple[str, ...] = ("pwd",)  # how the user signed in (server/services/auth_context.py)


def _parts(token: str) -> tuple[str, str | None] | None:
    """The session id and user id a refresh token names: `<sid>.<uid>.<secret>`, or
    `<sid>.<secret>` from before the user id was carried (uid None). None when malformed."""
    pieces = token.split(".")
    if len(pieces) == 3:
        sid, uid, secret = pieces
    elif len(pieces) == 2:
        (sid, secret), uid = pieces, None
    else:
        return None
    if not secret or not _is_id(sid) or (uid is not None and not _is_id(uid)):
        return None
    return sid, uid


def _is_id(value: str) -> bool:
    return len(value) == 24 and ObjectId.is_valid(value)


def new_refresh_token(user_id: str) -> tuple[str, str]:
    """A new session id and the first refresh token of that session. The token carries the
    user id, so a refresh reads the user by `_id` without first reading the session."""
    sid = sessions.new_session_id()
    return sid, f"{sid}.{user_id}.{new_token()}"


def _successor(config: Config, token: str) -> str:
    """The token a rotation hands out: the same ids, the next secret."""
    head = token.rpartition(".")[0]
    return f"{head}.{next_refresh_secret(config.jwt.refresh_secret, token)}"


async def start_session(db: Any, config: Config, user_id: str, now: datetime, *,
                        user_agent: str | None, ip: str | None, login: bool = False,
                        new_hash: str | None = None, attempt: str | None = None,
                        version: int | None = None, seen: User | None = None,
                        audit: Audit | None = None) -> Started:
    """Create a session and register it on the user, dropping the oldest beyond
    security.max_sessions; with `version`, only while the user's credentials are still the
    ones read then. `login`/`new_hash`/`attempt`/`version`/`seen` are passed to
    user_sessions.add_session. Raises BadCredentials for a login (InvalidRefreshToken
    otherwise) when the user vanished or its credentials changed meanwhile."""
    sid, token = new_refresh_token(user_id)
    # Listed on the user first, stored second: a worker that dies in between leaves an id
    # that no token was issued for (it just takes a place in the list), never a document
    # beyond the cap.
    added = await user_sessions.add_session(db, user_id, sid, config.security.max_sessions,
                                            now, login=login, new_hash=new_hash,
                                            attempt=attempt, version=version, seen=seen)
    if added is None:
        if login:
            raise BadCredentials()
        raise InvalidRefreshToken()
    await store_session(db, config, user_id, sid, token, added.serial, now,
                        user_agent=user_agent, ip=ip, audit=audit)
    return Started(added.user, sid, token)


async def start_login_as_read(db: Any, config: Config, read: users.LoginRead, now: datetime,
                              *, user_agent: str | None, ip: str | None,
                              audit: Audit | None = None) -> Started | None:
    """The session of a login that checked the password on `read` without an attempt slot
    (server/services/lockout.py check_before_slot): the user write lands only while the
    account is exactly as read, lockout fields and credentials included. None when anything
    changed meanwhile (nothing is written): the caller takes a slot and starts it then."""
    sid, token = new_refresh_token(read.user.id)
    added = await user_sessions.add_session(
        db, read.user.id, sid, config.security.max_sessions, now, login=True,
        version=read.user.credential_version, seen=read.user, as_read=read.lockout)
    if added is None:
        return None
    await store_session(db, config, read.user.id, sid, token, added.serial, now,
                        user_agent=user_agent, ip=ip, audit=audit)
    return Started(added.user, sid, token)


async def store_session(db: Any, config: Config, user_id: str, sid: str, token: str,
                        serial: int, now: datetime, *, user_agent: str | None, ip: str | None,
                        audit: Audit | None = None) -> None:
    """Store the document of session `sid`, already listed on its user as number `serial`,
    in its slot: first removing the session that the cap pushed out of that slot."""
    cap = config.security.max_sessions
    if serial >= cap:
        await _free(db, user_id, serial, cap, audit)
    fields: dict[str, Any] = {
        "session_id": sid, "user_id": user_id, "refresh_hash": token_hash(token), "now": now,
        "expires": now + config.jwt.refresh_ttl, "user_agent": user_agent, "ip": ip,
        "serial": serial, "max_sessions": cap}
    if await sessions.insert_session(db, **fields) is None \
            and await _free(db, user_id, serial, cap, audit):
        # The slot held an older session (a racing start, or one left by a dead worker).
        # If it holds a newer one, this session is already pushed out: nothing to store.
        await sessions.insert_session(db, **fields)


async def _free(db: Any, user_id: str, serial: int, cap: int, audit: Audit | None) -> bool:
    dropped = await sessions.free_slot(db, user_id, serial, cap)
    if dropped is not None:
        (audit or Audit()).event("session_ended", userId=user_id, sessionId=dropped,
                                 reason="session_cap")
    return dropped is not None


async def refresh(db: Any, config: Config, token: str, now: datetime,
                  audit: Audit) -> Started:
    """Rotate a refresh token. Raises InvalidRefreshToken (unknown, expired, ended, rotated;
    a replayed rotated token also ends the session) or AccountDeactivated.

    Two commands when the token is the session's current one: the user by `_id` (is the
    session still listed, the account active?) and the rotation, a write conditional on the
    presented hash and the expiry. Anything else is judged on the session document."""
    parts = _parts(token)
    if parts is None:
        raise InvalidRefreshToken()
    sid, uid = parts
    if uid is None:
        return await _refresh_legacy(db, config, token, sid, now, audit)
    user = await users.find_signed_in(db, uid)
    if user is None or sid not in user.active_sessions:
        await sessions.delete_sessions(db, uid, [sid])  # a leftover of a crash, if any
        raise InvalidRefreshToken()
    if not user.is_active:
        raise AccountDeactivated()
    presented, successor = token_hash(token), _successor(config, token)
    if await sessions.rotate(db, sid, presented, token_hash(successor), now,
                             now + config.jwt.refresh_ttl, user_id=uid):
        audit.event("token_refreshed", metric="refresh", userId=user.id, sessionId=sid)
        return Started(user, sid, successor)
    session = await sessions.find_session(db, sid)
    if session is None or session.user_id != uid or session.expires_at <= now:
        raise InvalidRefreshToken()
    return await _replayed(db, config, session, user, presented, successor, now, audit)


async def _refresh_legacy(db: Any, config: Config, token: str, sid: str, now: datetime,
                          audit: Audit) -> Started:
    """A token from before the user id was carried: the session first, then its user."""
    session = await sessions.find_session(db, sid)
    if session is None or session.expires_at <= now:
        raise InvalidRefreshToken()
    user = await users.find_by_id(db, session.user_id)
    if user is not None and not user.is_active:
        raise AccountDeactivated()
    if user is None or session.id not in user.active_sessions:
        await sessions.delete_sessions(db, session.user_id, [session.id])
        raise InvalidRefreshToken()
    presented = token_hash(token)
    successor = f"{session.id}.{next_refresh_secret(config.jwt.refresh_secret, token)}"
    if presented == session.refresh_hash:
        if await sessions.rotate(db, session.id, presented, token_hash(successor), now,
                                 now + config.jwt.refresh_ttl):
            audit.event("token_refreshed", metric="refresh", userId=user.id,
                        sessionId=session.id)
            return Started(user, session.id, successor)
        # Another request rotated this very token a moment ago: judge it as a replay.
        session = await sessions.find_session(db, session.id) or session
    return await _replayed(db, config, session, user, presented, successor, now, audit)


async def _replayed(db: Any, config: Config, session: Session, user: User,
                    presented: str, successor: str, now: datetime, audit: Audit) -> Started:
    """A token that is not the session's current one: grace, reuse, or simply invalid."""
    if presented == session.last_rotated_hash and session.rotated_at is not None \
            and now - session.rotated_at <= config.jwt.refresh_reuse_grace \
            and token_hash(successor) == session.refresh_hash:
        audit.event("token_refreshed", metric="refresh", userId=user.id,
                    sessionId=session.id, grace=True)
        return Started(user, session.id, successor)
    if presented in session.previous_hashes:
        await end_sessions(db, user.id, [session.id])
        audit.event("refresh_reuse_detected", metric="reuse_detected", level=logging.WARNING,
                    userId=user.id, sessionId=session.id)
        audit.event("session_ended", userId=user.id, sessionId=session.id, reason="reuse")
    raise InvalidRefreshToken()


async def end_sessions(db: Any, user_id: str, session_ids: list[str] | None = None, *,
                       keep: str | None = None) -> None:
    """End sessions of a user: the given ids, or every one (except `keep`). Their access
    tokens are refused from the next request and their refresh tokens are deleted."""
    await user_sessions.remove_sessions(db, user_id, session_ids, keep=keep)
    await sessions.delete_sessions(db, user_id, session_ids,
                                   keep=[keep] if keep is not None else None)


async def end_session_of(db: Any, user: User, session_id: str, audit: Audit,
                         reason: str) -> None:
    """End one of `user`'s sessions. Raises SessionNotFound when it is not theirs or gone."""
    if session_id not in user.active_sessions:
        raise SessionNotFound()
    await end_sessions(db, user.id, [session_id])
    audit.event("session_ended", userId=user.id, sessionId=session_id, reason=reason)


async def end_all_sessions(db: Any, user: User, audit: Audit, reason: str, *,
                           keep: str | None = None) -> None:
    """End every session of `user` but `keep` (logout-all, password change, deactivation)."""
    await end_sessions(db, user.id, keep=keep)
    audit.event("session_ended", userId=user.id, all=True, kept=keep, reason=reason)


async def list_sessions(db: Any, user: User, now: datetime) -> list[Session]:
    """The user's live sessions, oldest first."""
    return await sessions.list_for_user(db, user.id, user.active_sessions, now)


async def live_user(db: Any, user_id: str, session_id: str) -> User | None:
    """The active user owning the live session `session_id`; None once that session has
    ended or the user is gone or deactivated (the check of every authenticated request)."""
    return await users.find_by_session(db, user_id, session_id)


async def find_by_refresh_token(db: Any, token: str,
                                now: datetime) -> tuple[Session, User] | None:
    """The live session whose CURRENT refresh token is `token`, and its active user; None for
    anything else. Looks only: no rotation, and a rotated token is not judged as a replay
    (introspection and revocation must never change or end a session by asking)."""
    parts = _parts(token)
    if parts is None:
        return None
    sid, uid = parts
    session = await sessions.find_session(db, sid)
    if session is None or session.expires_at <= now \
            or (uid is not None and session.user_id != uid) \
            or not hmac.compare_digest(token_hash(token), session.refresh_hash):
        return None
    user = await live_user(db, session.user_id, sid)
    return None if user is None else (session, user)
