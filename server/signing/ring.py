"""A worker's copy of the key set: which key signs now, which keys (by `kid`) a token may be
verified with, the public JWKS; re-read from the database every jwt.key_refresh."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt

from models.signing_keys import StoredKey
from server.core.config import Config, JwtConfig
from server.core.errors import InvalidToken
from server.signing.cache import TokenCache
from server.signing.crypto import KeyDecryptionError, load_private, resolve_kek, unseal
from server.signing.schedule import plan
from server.signing.store import ensure, seal_context

LOG = logging.getLogger("gatehouse.signing")
# Header members that would let a token name its own key (RFC 7515 4.1.2-4.1.6) or demand
# extensions we do not implement (crit): a token carrying one is refused outright.
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit"})


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    key: Any  # a private key object, or the HS256 secret


@dataclass(frozen=True, slots=True)
class KeySet:
    """One refresh's view. `verifying`: kid -> public key (or secret) of each key we publish."""

    alg: str
    keys: tuple[StoredKey, ...] = ()
    verifying: dict[str, Any] = field(default_factory=dict)
    signers: dict[str, Any] = field(default_factory=dict)  # kid -> private key
    jwks: tuple[dict[str, Any], ...] = ()


def hs256_kid(secret: str) -> str:
    """A stable public name for the HS256 secret: a MAC under it, so it reveals nothing."""
    mac = hmac.new(secret.encode("utf-8"), b"gatehouse.kid.v1", hashlib.sha256).digest()
    return "hs256-" + base64.urlsafe_b64encode(mac[:12]).decode("ascii")


class KeyRing:
    """Signing and verification keys of one worker. HS256 needs no database: the secret is the
    one key. Other algorithms read (and, when owed, create) the stored keys."""

    def __init__(self, cfg: JwtConfig, kek: Callable[[], bytes] = bytes) -> None:
        self.cfg = cfg
        self.alg = self.cfg.algorithm
        self.cache = TokenCache(self.cfg.token_cache_size)
        self._kek_source = kek
        self._kek: bytes | None = None
        self._lock = asyncio.Lock()
        self._loaded_at = float("-inf")
        self._set: KeySet | None = None
        if self.alg == "HS256":
            kid = hs256_kid(self.cfg.secret)
            self._set = KeySet("HS256", verifying={kid: self.cfg.secret},
                               signers={kid: self.cfg.secret})

    @classmethod
    def for_app(cls, config: Config) -> KeyRing:
        """The ring of a worker: the key-encryption key is resolved on first use (no I/O
        while the app is built)."""
        return cls(config.jwt, lambda: resolve_kek(config))

    @property
    def static(self) -> bool:
        return self.alg == "HS256"

    def kek(self) -> bytes:
        if self._kek is None:
            self._kek = self._kek_source()
        return self._kek

    async def current(self, db: Any, now: datetime) -> KeySet:
        """The key set, re-read when older than jwt.key_refresh. A failed re-read keeps the
        previous set (tried again after another interval); with none yet, it raises."""
        if self.static or time.monotonic() - self._loaded_at < self._refresh_s:
            return self.loaded()
        async with self._lock:
            if time.monotonic() - self._loaded_at >= self._refresh_s:
                try:
                    await self._refresh(db, now)
                except Exception:
                    if self._set is None:
                        raise
                    LOG.warning("signing keys not refreshed; keeping the previous set",
                                extra={"fields": {"event": "signing_keys_stale"}})
                    self._loaded_at = time.monotonic()
        return self.loaded()

    def loaded(self) -> KeySet:
        """The key set as last read (HS256: the secret). Raises RuntimeError before any."""
        if self._set is None:
            raise RuntimeError("signing keys not loaded yet")
        return self._set

    @property
    def _refresh_s(self) -> float:
        return self.cfg.key_refresh.total_seconds()

    async def _refresh(self, db: Any, now: datetime) -> None:
        keys = await ensure(db, self.cfg, self.kek(), now)
        fresh = self._build(keys, now)
        if self._set is not None:
            self.cache.drop_keys(set(self._set.verifying) - set(fresh.verifying))
        self._set = fresh
        self._loaded_at = time.monotonic()

    def _build(self, keys: list[StoredKey], now: datetime) -> KeySet:
        state = plan(keys, now, self.cfg.access_ttl)
        published = state.published
        previous = self._set.signers if self._set is not None else {}
        signers = {}
        for key in published:
            private = previous.get(key.kid) or self._unseal(key)
            if private is not None:
                signers[key.kid] = private
        verifying = {k.kid: jwt.PyJWK(k.public_jwk, k.alg).key for k in published}
        return KeySet(self.alg, tuple(keys), verifying, signers,
                      tuple(k.public_jwk for k in published))

    def _unseal(self, key: StoredKey) -> Any | None:
        try:
            der = unseal(self.kek(), key.sealed_private, seal_context(key.kid,
                                                                                   key.alg))
        except KeyDecryptionError:
            LOG.error("a signing key does not open under jwt.key_encryption_key",  # noqa: TRY400
                      extra={"fields": {"event": "signing_key_unreadable", "kid": key.kid}})
            return None
        return load_private(der)

    def signing_key(self, keys: KeySet, now: datetime) -> SigningKey:
        """The key that signs at `now`: the newest activated key (the same on every worker,
        since activation is a stored time). Raises RuntimeError when it cannot be used."""
        if self.static:
            kid = next(iter(keys.signers))
            return SigningKey(kid, "HS256", keys.signers[kid])
        current = plan(keys.keys, now, self.cfg.access_ttl).current
        private = keys.signers.get(current.kid) if current is not None else None
        if current is None or private is None:
            raise RuntimeError("no usable signing key")  # a 500; the refresh logged why
        return SigningKey(current.kid, self.alg, private)

    def verification_key(self, keys: KeySet, header: dict[str, Any]) -> tuple[str, Any]:
        """(kid, key) for a token header: only the configured algorithm, only a key we
        publish, never a key the token names or carries. Raises InvalidToken."""
        if header.get("alg") != self.alg or not FORBIDDEN_HEADERS.isdisjoint(header):
            raise InvalidToken()
        kid = header.get("kid")
        if self.static and kid is None:  # HS256 tokens issued before `kid` existed
            kid = next(iter(keys.verifying))
        if not isinstance(kid, str) or kid not in keys.verifying:
            raise InvalidToken()
        return kid, keys.verifying[kid]


@functools.lru_cache(maxsize=8)
def static_ring(cfg: JwtConfig) -> tuple[KeyRing, KeySet]:
    """An HS256 ring for callers that pass none (scripts, tests), without a token cache."""
    if cfg.algorithm != "HS256":
        raise RuntimeError(f"jwt.algorithm {cfg.algorithm} signs with stored keys: pass the "
                           "worker's KeyRing")
    ring = KeyRing(dataclasses.replace(cfg, token_cache_size=0))
    return ring, ring.loaded()
