"""An admin's reset of another user's second factors (issue 16 item 6): for a user who lost
the phone, or whose factor may be in other hands.

Every factor goes in one write (models/user_mfa.clear_all), then every session of the user
ends: a session may have been signed in with the factor being reset, by whoever holds it,
so ending them all is the safe default (it also bumps the credential version, voiding any
mfaToken issued before). The user is mailed when a factor was removed; the reset is a
security event naming the admin. A reset of a user with nothing to remove still ends the
sessions (an admin retrying after an error gets the whole effect), but mails nobody.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from models import user_mfa, users
from server.core.errors import UserNotFound
from server.mail.messages import second_factors_reset_notice
from server.observability.audit import Audit
from server.services.sessions import end_all_sessions
from server.services.users import get_user


async def reset_factors(db: Any, mailer: Any, user_id: str, now: datetime, audit: Audit,
                        actor_id: str) -> bool:
    """Remove every second factor of the user `user_id` and end all its sessions; whether
    a factor was removed (of two racing resets, exactly one removes it and mails).
    Raises InvalidId or UserNotFound (also when deleted meanwhile)."""
    target = await get_user(db, user_id)
    before = await user_mfa.clear_all(db, target.id, now)
    if before is None and await users.find_by_id(db, target.id) is None:
        raise UserNotFound()  # deleted meanwhile
    removed = before is not None and user_mfa.had_factor(before)
    if removed:  # queued at once: the outbox keeps it even if this request dies next
        await mailer.send(second_factors_reset_notice(target.email))
    await end_all_sessions(db, target, audit, reason="mfa_reset")
    audit.event("mfa_reset", level=logging.WARNING, userId=target.id, by=actor_id,
                removed=removed)
    return removed
