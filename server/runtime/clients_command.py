"""`run.py clients create|list|delete`: register the services that may introspect and revoke
tokens. The secret is printed once, by `create`; only its hash is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from server.core.clock import iso, utcnow
from server.core.config import Config
from server.db import make_client, prepare_schema
from server.services import clients


@asynccontextmanager
async def _database(config: Config) -> AsyncIterator[Any]:
    client = make_client(config.mongodb.uri, config.mongodb.timeout.total_seconds(), 2)
    try:
        db = client[config.mongodb.database]
        await prepare_schema(db)  # under the schema lease, like every worker
        yield db
    finally:
        client.close()


async def create_command(config: Config, name: str) -> list[str]:
    """Register a client; the lines to print, the secret among them (shown only here).
    Raises ValueError for a bad name, before touching the database."""
    name = clients.check_name(name)
    async with _database(config) as db:
        created = await clients.create_client(db, name, utcnow())
    return [f"created client {created.client.name}",
            f"client_id: {created.client.id}",
            f"client_secret: {created.secret}",
            "The secret is shown only this once (Gatehouse keeps a hash): store it now."]


async def list_command(config: Config) -> list[str]:
    """One line per client, oldest first: id, creation time, name (never a secret or hash)."""
    async with _database(config) as db:
        found = await clients.list_clients(db)
    return [f"{c.id}  {iso(c.created_at)}  {c.name}" for c in found]


async def delete_command(config: Config, client_id: str) -> bool:
    """Delete a client (its credentials are refused from the next request); False if there
    was no such client."""
    async with _database(config) as db:
        return await clients.delete_client(db, client_id)
