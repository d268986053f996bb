"""`run.py create-admin`: create an admin account, or promote an existing user to admin."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError

from handlers.schemas.fields import Email, Name, Password
from models import users
from server.clock import utcnow
from server.config import Config
from server.errors import FieldError, ValidationFailed
from server.security import hash_password


class _AdminSchema(Schema):
    """The registration rules (API.md, POST /register) for the same four fields."""

    class Meta:
        unknown = RAISE

    firstName = Name(label="First name", required=True)
    lastName = Name(label="Last name", required=True)
    email = Email(required=True)
    password = Password(required=True)


def _validated(**given: str) -> dict[str, Any]:
    try:
        return _AdminSchema().load(given)  # type: ignore[no-any-return]
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"input": exc.messages}
        found = [FieldError(str(name), str(text))
                 for name, texts in messages.items()
                 for text in (texts if isinstance(texts, list) else [texts])]
        raise ValidationFailed(f"{found[0].field}: {found[0].message}", errors=found) from None


async def create_admin(db: Any, config: Config, *, email: str, password: str,
                       first_name: str, last_name: str) -> str:
    """Create an active, verified admin, or promote (and reactivate) the user who already has
    this email, keeping that user's password and names. Returns what was done, in words.
    Raises ValidationFailed when an input breaks the registration rules."""
    data = _validated(email=email, password=password, firstName=first_name,
                      lastName=last_name)
    now = utcnow()
    existing = await users.find_by_email(db, data["email"])
    if existing is not None:
        if existing.role == "admin" and existing.is_active:
            return f"{existing.email} is already an admin"
        await users.update_fields(db, existing.id, {"role": "admin", "isActive": True}, now)
        return f"promoted {existing.email} to admin (password unchanged)"
    doc = users.new_user_doc(
        first_name=data["firstName"], last_name=data["lastName"], email=data["email"],
        password_hash=await hash_password(data["password"], config.security.bcrypt_rounds),
        now=now, role="admin", isEmailVerified=True)
    await users.insert_user(db, doc)
    return f"created admin {data['email']}"
