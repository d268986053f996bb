"""Access-token signing keys: the stored key set, its schedule, a worker's KeyRing (KEYRING)."""

from __future__ import annotations

from aiohttp import web

from server.signing.ring import KeyRing, KeySet, SigningKey

KEYRING = web.AppKey("keyring", KeyRing)

__all__ = ["KEYRING", "KeyRing", "KeySet", "SigningKey"]
