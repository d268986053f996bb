"""Creating, rotating and revoking the stored signing keys of the configured algorithm; shared
by every worker (on each refresh) and by `run.py keys`."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from models import signing_keys
from models.signing_keys import StoredKey
from server.core.config import JwtConfig
from server.signing.crypto import generate, private_der, public_jwk, seal
from server.signing.schedule import next_activation, plan


def seal_context(kid: str, alg: str) -> str:
    return f"gatehouse.signing-key.v1:{alg}:{kid}"


def _new_key(kek: bytes, alg: str, seq: int, activates_at: datetime,
             now: datetime) -> StoredKey:
    private = generate(alg)
    jwk = public_jwk(private, alg)
    sealed = seal(kek, private_der(private), seal_context(jwk["kid"], alg))
    return StoredKey(kid=jwk["kid"], alg=alg, seq=seq, public_jwk=jwk, sealed_private=sealed,
                     created_at=now, activates_at=activates_at)


async def add_key(db: Any, kek: bytes, alg: str, keys: list[StoredKey],
                  activates_at: datetime, now: datetime) -> StoredKey | None:
    """Store the next key of `alg`; None when a racing process stored that number first.
    Key generation runs in a thread (an RSA key takes a noticeable fraction of a second)."""
    seq = max((k.seq for k in keys), default=0) + 1
    key = await asyncio.to_thread(_new_key, kek, alg, seq, activates_at, now)
    return key if await signing_keys.insert(db, key) else None


async def ensure(db: Any, cfg: JwtConfig, kek: bytes, now: datetime) -> list[StoredKey]:
    """The configured algorithm's keys, after adding the one owed: the first key (signing at
    once), a replacement for a revoked current key (at once), or the scheduled rotation
    (published key_publish_ahead before it signs). Racing callers add it once."""
    keys = await signing_keys.of_algorithm(db, cfg.algorithm)
    state = plan(keys, now, cfg.access_ttl, cfg.rotate_every, cfg.key_publish_ahead)
    if state.current is None or state.rotation_due:
        activates = next_activation(state.current, now, cfg.rotate_every,
                                    cfg.key_publish_ahead, scheduled=state.current is not None)
        await add_key(db, kek, cfg.algorithm, keys, activates, now)
        keys = await signing_keys.of_algorithm(db, cfg.algorithm)
    return keys


async def rotate(db: Any, cfg: JwtConfig, kek: bytes, now: datetime) -> StoredKey:
    """`keys rotate`: a new key, published now, signing after jwt.key_publish_ahead (at once
    when no key signs yet). Retries when a worker's schedule took the number first."""
    while True:
        keys = await signing_keys.of_algorithm(db, cfg.algorithm)
        current = plan(keys, now, cfg.access_ttl).current
        activates = next_activation(current, now, cfg.rotate_every, cfg.key_publish_ahead,
                                    scheduled=False)
        added = await add_key(db, kek, cfg.algorithm, keys, activates, now)
        if added is not None:
            return added


async def revoke(db: Any, cfg: JwtConfig, kek: bytes, kid: str,
                 now: datetime) -> StoredKey | None:
    """`keys revoke KID`: the key leaves the set at once (workers drop it within
    jwt.key_refresh); if it was signing, a replacement signs at once. None: no such key."""
    revoked = await signing_keys.revoke(db, kid, now)
    if revoked is not None and revoked.alg == cfg.algorithm:
        await ensure(db, cfg, kek, now)
    return revoked
