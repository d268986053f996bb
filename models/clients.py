"""The `clients` collection: service clients (an API, a worker, a gateway) that may introspect
and revoke tokens with HTTP Basic authentication.

`_id` is the client id (24 hex, as printed by `run.py clients create`); the secret is never
stored, only `secretHash` (a SHA-256 of the 256-bit random secret: a digest suffices for a
secret that cannot be guessed, and costs microseconds per request where bcrypt costs 100 ms).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, IndexModel

COLLECTION = "clients"

INDEXES = [IndexModel([("createdAt", ASCENDING)], name="created")]


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    name: str
    secret_hash: str
    created_at: datetime

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Client:
        return cls(id=str(doc["_id"]), name=doc["name"], secret_hash=doc["secretHash"],
                   created_at=doc["createdAt"])


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)


def new_client_id() -> str:
    return str(ObjectId())


async def insert_client(db: Any, *, client_id: str, name: str, secret_hash: str,
                        now: datetime) -> Client:
    doc = {"_id": client_id, "name": name, "secretHash": secret_hash, "createdAt": now}
    await db[COLLECTION].insert_one(doc)
    return Client.from_doc(doc)


async def find_client(db: Any, client_id: str) -> Client | None:
    doc = await db[COLLECTION].find_one({"_id": client_id})
    return Client.from_doc(doc) if doc else None


async def list_clients(db: Any) -> list[Client]:
    """Every client, oldest first."""
    cursor = db[COLLECTION].find({}).sort("createdAt", ASCENDING)
    return [Client.from_doc(doc) async for doc in cursor]


async def delete_client(db: Any, client_id: str) -> bool:
    """Delete a client; True when it existed."""
    result = await db[COLLECTION].delete_one({"_id": client_id})
    return bool(result.deleted_count)
