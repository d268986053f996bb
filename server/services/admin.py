"""`run.py create-admin`: create a new admin account, or explicitly promote an existing one.

The command never takes over an account it did not create: someone may have registered the
address first (issue 13 item 1), so an existing account is refused unless the operator asks
for `--promote`, and even then only a verified, active account is promoted, keeping its own
password and names.
"""

from __future__ import annotations

from typing import Any

from models import admins, users
from server.core.clock import utcnow
from server.core.config import Config
from server.core.errors import AppError, Conflict, EmailTaken, NotFound
from server.security import hash_password


def _taken(email: str, existing: users.User | None) -> Conflict:
    if existing is not None and existing.role == "admin" and existing.is_active:
        return Conflict(f"{email} already has an account (an admin): nothing was changed")
    return Conflict(f"{email} already has an account: nothing was changed. To make that "
                    f"account an admin, run create-admin --email {email} --promote (it keeps "
                    f"its own password)")


async def create_admin(db: Any, config: Config, *, email: str, password: str,
                       first_name: str, last_name: str) -> str:
    """Create an active, verified admin. Returns what was done, in words. Raises Conflict when
    the address already has an account (also one registered while the command ran).
    The inputs are already validated (server/runtime/admin_command.py)."""
    existing = await users.find_by_email(db, email)
    if existing is not None:
        raise _taken(email, existing)
    now = utcnow()
    doc = users.new_user_doc(
        first_name=first_name, last_name=last_name, email=email,
        password_hash=await hash_password(password, config.security.bcrypt_rounds),
        now=now, role="admin", isEmailVerified=True)
    try:
        await users.insert_user(db, doc)
    except EmailTaken:  # a registration won the race for the address
        raise _taken(email, await users.find_by_email(db, email)) from None
    return f"created admin {email}"


async def promote_admin(db: Any, *, email: str) -> str:
    """Make the verified, active account with this email an admin, keeping its password and
    names. Returns what was done, in words. Raises NotFound (no such account) or Conflict
    (unverified or deactivated: such an account is never promoted)."""
    user = await users.find_by_email(db, email)
    if user is None:
        raise _not_promotable(email, None)
    if user.role == "admin" and user.is_active and user.is_email_verified:
        return f"{user.email} is already an admin"
    promoted = await admins.promote(db, user.id, utcnow())
    if promoted is None:
        # The update is conditional: re-read to name the state it refused.
        raise _not_promotable(email, await users.find_by_email(db, email))
    return f"promoted {promoted.email} to admin (password unchanged)"


def _not_promotable(email: str, user: users.User | None) -> AppError:
    if user is None:
        return NotFound(f"{email} has no account: to create an admin, run create-admin "
                        f"--email {email} --password ... (without --promote)")
    if not user.is_active:
        return Conflict(f"{email} is deactivated: only a verified, active account can be "
                        f"promoted")
    if not user.is_email_verified:
        return Conflict(f"{email} has not verified its email address: only a verified, "
                        f"active account can be promoted")
    return Conflict(f"{email} changed while it was being promoted: run the command again")
