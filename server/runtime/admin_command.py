"""`run.py create-admin`: validate the flags by the registration rules, then run the admin
service against the configured database."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError

from handlers.schemas.fields import Email, Name, Password
from server.core.config import Config
from server.core.errors import FieldError, ValidationFailed
from server.db import make_client, prepare_schema
from server.services.admin import create_admin, promote_admin


class _AdminSchema(Schema):
    """The registration rules (API.md, POST /register) for the same four fields."""

    class Meta:
        unknown = RAISE

    firstName = Name(label="First name", required=True)
    lastName = Name(label="Last name", required=True)
    email = Email(required=True)
    password = Password(required=True)


def _validated(given: dict[str, str | None]) -> dict[str, Any]:
    """The flags that were given, validated; the others (a promotion gives only an email)
    are not checked."""
    present = {k: v for k, v in given.items() if v is not None}
    try:
        return _AdminSchema().load(present, partial=True)  # type: ignore[no-any-return]
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"input": exc.messages}
        found = [FieldError(str(name), str(text))
                 for name, texts in messages.items()
                 for text in (texts if isinstance(texts, list) else [texts])]
        raise ValidationFailed(f"{found[0].field}: {found[0].message}", errors=found) from None


def _or(given: str | None, default: str) -> str:
    return default if given is None else given


async def create_admin_command(config: Config, *, email: str, password: str | None,
                               first_name: str | None = None, last_name: str | None = None,
                               promote: bool = False) -> str:
    """Create a new admin (a password is needed), or with `promote` make the existing,
    verified, active account an admin. Returns what was done, in words. Raises
    ValidationFailed when a flag breaks the registration rules, and the AppErrors of
    server/services/admin.py (an existing account, or one that may not be promoted)."""
    if not promote and password is None:
        raise ValidationFailed("password: a new admin needs --password")
    data = _validated({"email": email, "password": password,
                       "firstName": None if promote else _or(first_name, "Admin"),
                       "lastName": None if promote else _or(last_name, "User")})
    client = make_client(config.mongodb.uri, config.mongodb.timeout.total_seconds(), 2)
    try:
        db = client[config.mongodb.database]
        await prepare_schema(db)  # under the schema lease, like every worker
        if promote:
            return await promote_admin(db, email=data["email"])
        return await create_admin(db, config, email=data["email"], password=data["password"],
                                  first_name=data["firstName"], last_name=data["lastName"])
    finally:
        client.close()
