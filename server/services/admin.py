"""`run.py create-admin`: create an admin account, or promote an existing user to admin."""

from __future__ import annotations

from typing import Any

from models import users
from server.core.clock import utcnow
from server.core.config import Config
from server.security import hash_password


async def create_admin(db: Any, config: Config, *, email: str, password: str,
                       first_name: str, last_name: str) -> str:
    """Create an active, verified admin, or promote (and reactivate) the user who already has
    this email, keeping that user's password and names. Returns what was done, in words.
    The inputs are already validated (server/runtime/admin_command.py)."""
    now = utcnow()
    existing = await users.find_by_email(db, email)
    if existing is not None:
        if existing.role == "admin" and existing.is_active:
            return f"{existing.email} is already an admin"
        await users.update_fields(db, existing.id, {"role": "admin", "isActive": True}, now)
        return f"promoted {existing.email} to admin (password unchanged)"
    doc = users.new_user_doc(
        first_name=first_name, last_name=last_name, email=email,
        password_hash=await hash_password(password, config.security.bcrypt_rounds),
        now=now, role="admin", isEmailVerified=True)
    await users.insert_user(db, doc)
    return f"created admin {email}"
