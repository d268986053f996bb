"""The `signing_keys` collection: access-token signing keys (public JWK in clear, private key
sealed under the key-encryption key), numbered per algorithm so that one insert wins a race."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

COLLECTION = "signing_keys"
# (alg, seq) is unique: workers and hosts that race to create the first key, or to rotate on
# schedule, all insert the same next number and exactly one of them succeeds.
INDEXES = [IndexModel([("alg", ASCENDING), ("seq", ASCENDING)], unique=True, name="alg_seq")]


@dataclass(frozen=True, slots=True)
class StoredKey:
    kid: str
    alg: str
    seq: int
    public_jwk: dict[str, Any]
    sealed_private: bytes  # nonce + AES-GCM ciphertext of the PKCS#8 DER private key
    created_at: datetime
    activates_at: datetime  # signs from then on (published from created_at)
    revoked_at: datetime | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> StoredKey:
        return cls(kid=doc["_id"], alg=doc["alg"], seq=doc["seq"], public_jwk=doc["publicJwk"],
                   sealed_private=bytes(doc["sealedPrivate"]), created_at=doc["createdAt"],
                   activates_at=doc["activatesAt"], revoked_at=doc.get("revokedAt"))

    def to_doc(self) -> dict[str, Any]:
        return {"_id": self.kid, "alg": self.alg, "seq": self.seq, "publicJwk": self.public_jwk,
                "sealedPrivate": self.sealed_private, "createdAt": self.created_at,
                "activatesAt": self.activates_at, "revokedAt": self.revoked_at}


async def ensure_indexes(db: Any) -> None:
    await db[COLLECTION].create_indexes(INDEXES)


async def of_algorithm(db: Any, alg: str) -> list[StoredKey]:
    """Every key of `alg`, revoked ones included, oldest first."""
    cursor = db[COLLECTION].find({"alg": alg}).sort("seq", ASCENDING)
    return [StoredKey.from_doc(doc) async for doc in cursor]


async def every_key(db: Any) -> list[StoredKey]:
    """Every key of every algorithm (for `run.py keys list`)."""
    cursor = db[COLLECTION].find({}).sort([("alg", ASCENDING), ("seq", ASCENDING)])
    return [StoredKey.from_doc(doc) async for doc in cursor]


async def insert(db: Any, key: StoredKey) -> bool:
    """Store a new key; False when another process took its number first."""
    try:
        await db[COLLECTION].insert_one(key.to_doc())
    except DuplicateKeyError:
        return False
    return True


async def revoke(db: Any, kid: str, now: datetime) -> StoredKey | None:
    """Mark a key revoked (kept, so `keys list` still shows it); None when there is none."""
    await db[COLLECTION].update_one({"_id": kid, "revokedAt": None},
                                    {"$set": {"revokedAt": now}})
    doc = await db[COLLECTION].find_one({"_id": kid})
    return StoredKey.from_doc(doc) if doc else None
