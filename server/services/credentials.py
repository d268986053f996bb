"""Signed-in credential changes: the password and the sign-in email, each checked against the
current password, written only while that check still holds, and told to the account.

An email change is only asked for here: the new address becomes the sign-in identity when
the link mailed to it is followed (server/services/auth.py verify_email), and the current
address is told at once. A taken address is answered exactly like a free one (same writes,
same mails count, same body); its owner gets a notice instead of a link, so the route never
reveals who is registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from models import sessions, user_credentials, users
from models.outbox import Guard
from models.users import User
from server.core.config import Config
from server.core.errors import BadCredentials, CurrentPasswordIncorrect, InvalidToken
from server.mail.messages import (
    email_change_email,
    email_change_requested_notice,
    email_in_use_notice,
    password_changed_notice,
)
from server.observability.audit import Audit
from server.security import hash_password, new_token, token_hash
from server.services import lockout
from server.services.auth import VERIFICATION_TTL


async def check_password(db: Any, config: Config, mailer: Any, user: User, password: str,
                         now: datetime, audit: Audit, action: str) -> None:
    """Raises CurrentPasswordIncorrect (and logs `<action>_failed`) unless `password` is the
    user's current password. Checked as a login's password is, holding one of the account's
    attempt slots: a wrong one is a failed attempt (the account locks at the limit; then
    AccountLocked), so a stolen access token cannot be turned into unlimited guesses."""
    def clock() -> datetime:  # the request's one reading
        return now

    account = lockout.AccountLedger(db, user.email, secrets.token_hex(8), config.security,
                                    mailer)
    async with lockout.released_if_dead(account):
        if not await lockout.take_slot(account, clock, config, audit) \
                or account.user is None or account.user.id != user.id:
            raise InvalidToken()  # the account changed its email or went meanwhile
        try:
            await lockout.check_password(account, password, account.user.password_hash,
                                         clock, config, audit, f"{action}_wrong_current")
        except BadCredentials:
            audit.event(f"{action}_failed", userId=user.id, reason="wrong_current")
            raise CurrentPasswordIncorrect() from None
        await account.release()


async def change_password(db: Any, config: Config, mailer: Any, user: User, session_id: str,
                          current: str, new: str, now: datetime, audit: Audit) -> None:
    """Check the current password, then in one write store the new one, end every other
    session and void every mailed link; mail the account a notice. Raises
    CurrentPasswordIncorrect, or InvalidToken when this session ended or the credentials
    changed while the passwords were being hashed."""
    await check_password(db, config, mailer, user, current, now, audit, "password_change")
    new_hash = await hash_password(new, config.security.bcrypt_rounds)
    if not await user_credentials.set_password(db, user, new_hash, session_id, now):
        raise InvalidToken()
    await sessions.delete_sessions(db, user.id, keep=[session_id])
    await mailer.send(password_changed_notice(user.email))
    audit.event("session_ended", userId=user.id, all=True, kept=session_id,
                reason="password_changed")
    audit.event("password_changed", userId=user.id)


async def request_email_change(db: Any, config: Config, mailer: Any, user: User,
                               session_id: str, new_email: str, current: str,
                               fields: Mapping[str, Any], now: datetime,
                               audit: Audit) -> User:
    """Check the current password, apply the other profile `fields`, record `new_email` as
    pending and void every mailed link (one write); mail the confirmation link to the new
    address (a notice to its owner when it is taken) and a notice to the current one.
    Raises CurrentPasswordIncorrect, or InvalidToken when this session ended or the
    credentials changed meanwhile."""
    await check_password(db, config, mailer, user, current, now, audit, "email_change")
    token = new_token()
    hashed = token_hash(token)
    taken = await users.find_by_email(db, new_email) is not None
    # Both mails are queued first, held until the user holds the link's hash: a worker that
    # dies before the write below leaves neither a pending change without its mails nor
    # mails about a change that was never recorded.
    guard = Guard(users.PENDING_EMAIL_TOKEN, hashed)
    queued = [
        await mailer.send(email_in_use_notice(new_email) if taken
                          else email_change_email(config, new_email, token), guard=guard),
        await mailer.send(email_change_requested_notice(user.email, new_email), guard=guard)]
    updated = None
    try:
        updated = await user_credentials.request_email_change(
            db, user, session_id, fields, new_email, hashed, now + VERIFICATION_TTL, now)
    finally:
        if updated is None:  # nothing recorded: the held mails must never go
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.gather(*(mailer.discard(m) for m in queued)))
    if updated is None:
        raise InvalidToken()
    for mail_id in queued:
        mailer.release(mail_id)
    audit.event("email_change_requested", userId=user.id)
    return updated
