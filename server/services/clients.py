"""Service clients: register one (its secret is shown once), list, delete, and authenticate the
HTTP Basic credentials a client sends to the introspection and revocation routes."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models import clients
from models.clients import Client
from server.core.errors import InvalidClient
from server.security import new_token, token_hash

NAME_MAX = 64
# Compared against when the client id is unknown, so an unknown id and a wrong secret take
# the same path (client ids are not secret, but the answer should not depend on it).
_NO_SUCH_HASH = token_hash("gatehouse.no-such-client")


@dataclass(frozen=True, slots=True)
class Created:
    """A new client and its secret: the only time the secret exists outside the caller."""

    client: Client
    secret: str


def check_name(name: str) -> str:
    """The trimmed name. Raises ValueError naming the rule it breaks."""
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise ValueError(f"name: 1 to {NAME_MAX} characters")
    if not name.isprintable():  # it is shown in terminals by `clients list`
        raise ValueError("name: printable characters only")
    return name


async def create_client(db: Any, name: str, now: datetime) -> Created:
    """Register a client named `name` with a fresh 256-bit secret; only its hash is stored.
    Raises ValueError for a bad name."""
    secret = new_token()
    client = await clients.insert_client(db, client_id=clients.new_client_id(),
                                         name=check_name(name),
                                         secret_hash=token_hash(secret), now=now)
    return Created(client, secret)


async def list_clients(db: Any) -> list[Client]:
    return await clients.list_clients(db)


async def delete_client(db: Any, client_id: str) -> bool:
    """Delete a client: its credentials are refused from the next request. True if it existed."""
    return await clients.delete_client(db, client_id)


async def authenticate_client(db: Any, credentials: tuple[str, str] | None) -> Client:
    """The client whose (id, secret) these are. Raises InvalidClient otherwise."""
    if credentials is None:
        raise InvalidClient()
    client_id, secret = credentials
    found = await clients.find_client(db, client_id) if client_id else None
    expected = found.secret_hash if found is not None else _NO_SUCH_HASH
    # Digests of equal length: the comparison takes the same time whatever was sent.
    if not hmac.compare_digest(token_hash(secret), expected) or found is None:
        raise InvalidClient()
    return found
