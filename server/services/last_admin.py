"""The last-admin rule: no write (role, isActive, DELETE /me, DELETE /{id}) may leave the
service without an active admin, even when several such writes race (issue 13 item 20).

Each write that could take away an active admin runs under the claim protocol of
models/admins.py. When racing removals see only each other, the one holding the smallest
claim keeps it and waits; the others give theirs up and wait until it is settled, then
start again (and then see that admin gone). So exactly one of two admins removing each
other at once passes, and the other gets LastAdmin, on one worker or many.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from models import admins, users
from models.admins import Claimed
from models.users import User
from server.core.errors import LastAdmin, ServiceUnavailable, UserNotFound

T = TypeVar("T")
Write = Callable[[str | None], Awaitable[T]]

# A claim lives far longer than a removal's few round trips (each bounded by
# mongodb.timeout); it only matters when a worker died holding one.
LEASE = timedelta(seconds=30)
WAIT_S = 5.0  # racing removals that have not settled by then answer 503
POLL_S = 0.01


def removes_admin(fields: Mapping[str, Any]) -> bool:
    """Whether `fields` would make an active admin stop being one."""
    return ("role" in fields and fields["role"] != "admin") or fields.get("isActive") is False


async def update_user(db: Any, user_id: str, fields: Mapping[str, Any],
                      now: datetime) -> User:
    """Set `fields` (document names); if that takes away an active admin, only while another
    stays. Raises LastAdmin, UserNotFound, EmailTaken, ServiceUnavailable."""
    if not removes_admin(fields):
        updated = await users.update_fields(db, user_id, fields, now)
    else:
        updated = await _guarded(db, user_id, now, lambda token: admins.update(
            db, user_id, dict(fields), now, token=token))
    if updated is None:
        raise UserNotFound()
    return updated


async def delete_user(db: Any, user_id: str, now: datetime) -> None:
    """Delete the user for good; an active admin only while another stays.
    Raises LastAdmin, UserNotFound, ServiceUnavailable."""
    await _guarded(db, user_id, now, lambda token: admins.delete(db, user_id, token=token))


async def _guarded(db: Any, user_id: str, now: datetime, write: Write[T]) -> T:
    """Run `write(None)` (which only matches a user who is not an active admin) or, for an
    active admin, claim them and run `write(token)` when another active admin stays."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        done = await write(None)
        if done:
            return done
        token = uuid.uuid4().hex
        state = await admins.claim(db, user_id, token, now, LEASE)
        if state is Claimed.GONE:
            raise UserNotFound()
        if state is Claimed.YES:
            try:
                committed = await _while_claimed(db, user_id, token, now, write, deadline)
            finally:
                await admins.release(db, user_id, token)  # a no-op once committed
            if committed:
                return committed
        if loop.time() > deadline:
            raise ServiceUnavailable()
        await asyncio.sleep(POLL_S)


async def _while_claimed(db: Any, user_id: str, token: str, now: datetime, write: Write[T],
                         deadline: float) -> T | None:
    """Commit if another active admin is free; None to start again (after waiting for an
    older racing claim to settle). Raises LastAdmin or ServiceUnavailable."""
    loop = asyncio.get_running_loop()
    while True:
        seen = await admins.others(db, user_id, now)
        if seen.free:
            # None only if our claim was lost (it expired and was cleared): start again.
            return await write(token)
        if seen.oldest_claim is None:
            raise LastAdmin()
        if loop.time() > deadline:
            raise ServiceUnavailable()
        if seen.oldest_claim < token:
            break  # an older claim wins: give ours up (finally) and wait for it to settle
        await asyncio.sleep(POLL_S)  # ours is the oldest: the others give way
    await admins.release(db, user_id, token)
    while loop.time() <= deadline:
        if not await admins.claim_alive(db, seen.oldest_claim):
            break
        await asyncio.sleep(POLL_S)
    return None
