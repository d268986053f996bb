"""A user's passkeys (WebAuthn credentials), in the `mfa.passkeys` map of the users collection.

`mfa.passkeys` maps the credential id (base64url, so never a `.` or `$`) to {publicKey (COSE,
bytes), signCount, name, deviceType (single_device | multi_device), backedUp, aaguid,
createdAt, lastUsedAt}. Inside the `mfa` subdocument, so whatever clears the user's factors
(`mfa` unset or replaced) clears the passkeys too, and login learns that a user has one from
the user read it does anyway. A map rather than a list: adding, renaming, using and removing
one are each one conditional update on its own path, with no positional operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.users import COLLECTION, object_id

_P = "mfa.passkeys"
CREDENTIAL_ID = re.compile(r"^[A-Za-z0-9_-]{16,1400}$")  # base64url of 12..1023 bytes


@dataclass(frozen=True, slots=True)
class Passkey:
    id: str
    public_key: bytes
    sign_count: int
    name: str
    device_type: str
    backed_up: bool
    created_at: datetime
    last_used_at: datetime | None = None


def _path(credential_id: str) -> str:
    if not CREDENTIAL_ID.match(credential_id):  # never a field path out of client text
        raise ValueError("not a credential id")
    return f"{_P}.{credential_id}"


def _passkey(credential_id: str, doc: dict[str, Any]) -> Passkey:
    return Passkey(id=credential_id, public_key=bytes(doc["publicKey"]),
                   sign_count=int(doc.get("signCount") or 0), name=doc.get("name", ""),
                   device_type=doc.get("deviceType", "single_device"),
                   backed_up=bool(doc.get("backedUp")), created_at=doc["createdAt"],
                   last_used_at=doc.get("lastUsedAt"))


async def find_all(db: Any, user_id: str) -> list[Passkey]:
    """The user's passkeys, oldest first (none when the user is gone)."""
    found = await db[COLLECTION].find_one({"_id": object_id(user_id)}, {_P: 1})
    stored = ((found or {}).get("mfa") or {}).get("passkeys") or {}
    return [_passkey(cid, doc) for cid, doc in stored.items()]


async def find(db: Any, user_id: str, credential_id: str) -> Passkey | None:
    if not CREDENTIAL_ID.match(credential_id):
        return None
    for passkey in await find_all(db, user_id):
        if passkey.id == credential_id:
            return passkey
    return None


async def add(db: Any, user_id: str, credential_id: str, public_key: bytes, sign_count: int,
              name: str, device_type: str, backed_up: bool, aaguid: str,
              now: datetime) -> bool:
    """Store a new passkey; False when the user already has this credential (or is gone)."""
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), _path(credential_id): {"$exists": False}},
        {"$set": {_path(credential_id): {
            "publicKey": public_key, "signCount": sign_count, "name": name,
            "deviceType": device_type, "backedUp": backed_up, "aaguid": aaguid,
            "createdAt": now, "lastUsedAt": None}, "updatedAt": now}})
    return bool(result.modified_count)


async def use(db: Any, user_id: str, credential_id: str, seen_count: int, new_count: int,
              now: datetime) -> bool:
    """Record a sign-in with the passkey: its counter moves from `seen_count` (as read before
    the signature check) to `new_count`; False when it moved meanwhile or the key is gone."""
    path = _path(credential_id)
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), f"{path}.signCount": seen_count},
        {"$set": {f"{path}.signCount": new_count, f"{path}.lastUsedAt": now}})
    return bool(result.matched_count)


async def rename(db: Any, user_id: str, credential_id: str, name: str, now: datetime) -> bool:
    path = _path(credential_id)
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), path: {"$exists": True}},
        {"$set": {f"{path}.name": name, "updatedAt": now}})
    return bool(result.matched_count)


async def remove(db: Any, user_id: str, credential_id: str, now: datetime) -> bool:
    path = _path(credential_id)
    result = await db[COLLECTION].update_one(
        {"_id": object_id(user_id), path: {"$exists": True}},
        {"$unset": {path: ""}, "$set": {"updatedAt": now}})
    return bool(result.modified_count)
