"""`run.py create-admin`: validate the flags by the registration rules, then run the admin
service against the configured database."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError

from handlers.schemas.fields import Email, Name, Password
from server.core.config import Config
from server.core.errors import FieldError, ValidationFailed
from server.db import make_client, prepare_schema
from server.services.admin import create_admin


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


async def create_admin_command(config: Config, *, email: str, password: str, first_name: str,
                               last_name: str) -> str:
    """Returns what was done, in words (created, promoted, already an admin).
    Raises ValidationFailed when a flag breaks the registration rules."""
    data = _validated(email=email, password=password, firstName=first_name,
                      lastName=last_name)
    client = make_client(config.mongodb.uri, config.mongodb.timeout.total_seconds(), 2)
    try:
        db = client[config.mongodb.database]
        await prepare_schema(db)  # under the schema lease, like every worker
        return await create_admin(db, config, email=data["email"], password=data["password"],
                                  first_name=data["firstName"], last_name=data["lastName"])
    finally:
        client.close()
