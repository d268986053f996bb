"""The stored key set on a real database: sealed at rest, created once by racing workers,
picked up by every worker within jwt.key_refresh, the key-encryption key's rules."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from models import signing_keys
from server.core.clock import utcnow
from server.core.config import Config, load_config, with_overrides
from server.core.config_values import ConfigError
from server.db import ensure_indexes, make_client
from server.signing import KeyRing
from server.signing.crypto import (
    KEK_FILE,
    KeyDecryptionError,
    decode_kek,
    private_der,
    resolve_kek,
    unseal,
)
from server.signing.store import rotate, seal_context
from tests.conftest import TEST_CONFIG

ALGS = ["EdDSA", "ES256", "RS256"]


def ring_of(config: Config) -> KeyRing:
    return KeyRing.for_app(config)


@pytest.fixture
def eddsa(make_config: Callable[..., Config]) -> Config:
    return make_config(jwt={"algorithm": "EdDSA"})


@pytest.fixture
async def db(eddsa: Config) -> AsyncIterator[Any]:
    """The EdDSA config's database, with every collection's indexes (as the schema step
    leaves it before any worker touches keys)."""
    client = make_client(eddsa.mongodb.uri, 2.0, 10)
    database = client[eddsa.mongodb.database]
    await ensure_indexes(database)
    yield database
    client.close()


class TestSealedAtRest:
    @pytest.mark.parametrize("alg", ALGS)
    async def test_only_the_public_half_is_in_clear(self, make_config: Callable[..., Config],
                                                    alg: str) -> None:
        config = make_config(jwt={"algorithm": alg})
        client = make_client(config.mongodb.uri, 2.0, 5)
        try:
            db = client[config.mongodb.database]
            await ensure_indexes(db)
            ring = ring_of(config)
            keys = await ring.current(db, utcnow())
            signer = ring.signing_key(keys, utcnow())
            doc = await db[signing_keys.COLLECTION].find_one({"_id": signer.kid})
        finally:
            client.close()
        der = private_der(signer.key)
        sealed = bytes(doc["sealedPrivate"])
        assert der not in sealed
        assert der[-32:] not in sealed
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(doc["publicJwk"])
        kek = decode_kek(config.jwt.key_encryption_key)
        assert unseal(kek, sealed, seal_context(signer.kid, alg)) == der
        with pytest.raises(KeyDecryptionError):
            unseal(os.urandom(32), sealed, seal_context(signer.kid, alg))
        with pytest.raises(KeyDecryptionError):  # bound to its record: kid and alg
            unseal(kek, sealed, seal_context("another-kid", alg))

    async def test_a_wrong_key_encryption_key_cannot_sign(
            self, eddsa: Config, db: Any, caplog: pytest.LogCaptureFixture) -> None:
        await ring_of(eddsa).current(db, utcnow())
        other = with_overrides(eddsa, jwt={"key_encryption_key": "A" * 43})
        ring = ring_of(other)
        keys = await ring.current(db, utcnow())
        assert keys.verifying  # the public keys still verify
        with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError):
            ring.signing_key(keys, utcnow())
        assert any(getattr(r, "fields", {}).get("event") == "signing_key_unreadable"
                   for r in caplog.records)


class TestFirstKey:
    @pytest.mark.parametrize("trial", range(4))
    async def test_racing_workers_create_exactly_one_key(self, eddsa: Config, db: Any,
                                                         trial: int) -> None:
        # Eight workers (rings with clients of their own) start on an empty key set at once.
        clients = [make_client(eddsa.mongodb.uri, 2.0, 5) for _ in range(8)]
        try:
            rings = [ring_of(eddsa) for _ in clients]
            sets = await asyncio.gather(*(
                r.current(c[eddsa.mongodb.database], utcnow()) for r, c in zip(rings, clients,
                                                                            strict=True)))
        finally:
            for client in clients:
                client.close()
        stored = await signing_keys.of_algorithm(db, "EdDSA")
        assert len(stored) == 1
        assert {r.signing_key(s, utcnow()).kid for r, s in zip(rings, sets, strict=True)} \
            == {stored[0].kid}

    async def test_a_worker_whose_clock_read_earlier_signs_with_the_racing_first_key(
            self, eddsa: Config, db: Any) -> None:
        # Seen in a process test at RS256: worker A reads its request clock, then (after
        # bcrypt) asks for a key; worker B, which read its clock a moment later, won the race
        # to store the first key. A must still sign with it, not fail with a 500.
        asked_at = utcnow()
        other = ring_of(eddsa)
        await other.current(db, asked_at + timedelta(seconds=2))  # B stores the first key
        ring = ring_of(eddsa)
        keys = await ring.current(db, asked_at)
        assert ring.signing_key(keys, asked_at).kid == other.signing_key(
            other.loaded(), asked_at + timedelta(seconds=2)).kid

    async def test_hs256_stores_no_key(self, eddsa: Config, db: Any) -> None:
        ring = ring_of(with_overrides(eddsa, jwt={"algorithm": "HS256"}))
        await ring.current(db, utcnow())
        assert await signing_keys.every_key(db) == []


class TestRefresh:
    async def test_a_worker_picks_up_a_rotation_within_key_refresh(
            self, eddsa: Config, db: Any) -> None:
        a, b = ring_of(eddsa), ring_of(eddsa)
        now = utcnow()
        first = a.signing_key(await a.current(db, now), now).kid
        await b.current(db, now)
        new = await rotate(db, eddsa.jwt, decode_kek(eddsa.jwt.key_encryption_key), now)
        await asyncio.sleep(eddsa.jwt.key_refresh.total_seconds() + 0.05)
        keys = await b.current(db, now)
        assert new.kid in keys.verifying  # published at once, before it signs
        assert b.signing_key(keys, now).kid == first
        later = now + eddsa.jwt.key_publish_ahead
        assert b.signing_key(keys, later).kid == new.kid == a.signing_key(
            await a.current(db, later), later).kid


class TestKeyEncryptionKey:
    def test_production_refuses_to_start_without_one(self) -> None:
        env = {"APP__ENVIRONMENT": "production", "APP__JWT__SECRET": "s" * 40,
               "APP__JWT__REFRESH_SECRET": "r" * 40, "APP__MONGODB__URI": "mongodb://x",
               "APP__JWT__ALGORITHM": "EdDSA", "APP__JWT__KEY_ENCRYPTION_KEY": ""}
        with pytest.raises(ConfigError, match=r"^jwt\.key_encryption_key:"):
            load_config(TEST_CONFIG, env)
        load_config(TEST_CONFIG, {**env, "APP__JWT__KEY_ENCRYPTION_KEY": "B" * 43})

    @pytest.mark.parametrize("value", ["short", "!" * 43, "A" * 40])
    def test_a_malformed_one_is_refused(self, value: str) -> None:
        with pytest.raises(ConfigError, match=r"^jwt\.key_encryption_key:"):
            load_config(TEST_CONFIG, {"APP__JWT__KEY_ENCRYPTION_KEY": value})

    def test_publish_ahead_must_outlast_the_caches(self) -> None:
        with pytest.raises(ConfigError, match=r"^jwt\.key_publish_ahead:"):
            load_config(TEST_CONFIG, {"APP__JWT__KEY_PUBLISH_AHEAD": "1s"})

    def test_development_generates_one_once_under_the_data_dir(self, tmp_path: Path) -> None:
        base = load_config(TEST_CONFIG, {"APP__JWT__KEY_ENCRYPTION_KEY": ""})
        config = with_overrides(base, mongodb={"data_dir": str(tmp_path / "db")})
        found: list[bytes] = []
        threads = [threading.Thread(target=lambda: found.append(resolve_kek(config)))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        path = tmp_path / KEK_FILE
        assert len(set(found)) == 1
        assert len(found[0]) == 32
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert resolve_kek(config) == found[0]
        assert sorted(p.name for p in tmp_path.iterdir()) == [KEK_FILE]  # no temporaries
