"""GET /.well-known/jwks.json over HTTP (issue 15 items 3 and 4): public keys only, cacheable,
a rotated key published before it signs, a retired key until its tokens expire, a revoked
key gone (and its tokens refused) within jwt.key_refresh."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from handlers.schemas.jwks import JwkSchema
from server.core.config import Config
from server.signing.crypto import decode_kek
from server.signing.store import revoke, rotate
from tests._app import Clock, bearer, build_app
from tests.handlers._auth import db_of, login, register

JWKS = "/.well-known/jwks.json"
ME = "/api/v1/users/me"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


async def jwks(client: TestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    resp = await client.get(JWKS)
    assert resp.status == 200
    return await resp.json()  # type: ignore[no-any-return]


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]  # type: ignore[no-any-return]


async def refreshed(config: Config) -> None:
    """Wait past jwt.key_refresh: every ring re-reads the key set on its next use."""
    await asyncio.sleep(config.jwt.key_refresh.total_seconds() + 0.05)


async def me(client: TestClient, token: str) -> int:  # type: ignore[type-arg]
    return (await client.get(ME, headers=bearer(token))).status


class TestPublishedSet:
    @pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
    async def test_public_keys_that_verify_our_tokens(
            self, make_client: Any, make_config: Callable[..., Config], alg: str) -> None:
        config = make_config(jwt={"algorithm": alg})
        client = await make_client(config)
        token = (await register(client))["accessToken"]
        resp = await client.get(JWKS)
        assert resp.headers["Cache-Control"] == "public, max-age=1"
        keys = (await resp.json())["keys"]
        assert [k["kid"] for k in keys] == [kid_of(token)]
        assert keys[0]["alg"] == alg
        assert keys[0]["use"] == "sig"
        assert not PRIVATE_MEMBERS & set(keys[0])
        assert set(keys[0]) <= set(JwkSchema().fields)  # every member documented
        # PyJWT's own JWK loader, not our key objects: a third party can verify with it.
        public = jwt.PyJWK(keys[0]).key
        claims = jwt.decode(token, public, algorithms=[alg], audience=config.jwt.audience,
                            issuer=config.jwt.issuer)
        assert claims["sub"]

    async def test_hs256_publishes_nothing(self, client: TestClient) -> None:  # type: ignore[type-arg]
        assert (await jwks(client)) == {"keys": []}


class TestRotation:
    @pytest.fixture
    def eddsa(self, make_config: Callable[..., Config]) -> Config:
        return make_config(jwt={"algorithm": "EdDSA"})

    @pytest.fixture
    async def clocked(self, aiohttp_client: Any, eddsa: Config) -> tuple[TestClient, Clock]:  # type: ignore[type-arg]
        clock = Clock()
        return await aiohttp_client(build_app(eddsa, clock=clock)), clock

    async def test_published_ahead_then_signing_then_retired_then_gone(
            self, clocked: tuple[TestClient, Clock], eddsa: Config) -> None:  # type: ignore[type-arg]
        client, clock = clocked
        old_token = (await register(client))["accessToken"]
        old = kid_of(old_token)
        new = await rotate(db_of(client), eddsa.jwt, decode_kek(eddsa.jwt.key_encryption_key),
                           clock.now)
        await refreshed(eddsa)
        assert {k["kid"] for k in (await jwks(client))["keys"]} == {old, new.kid}
        # Published, not signing yet: every verifier can fetch it before it sees a token.
        assert kid_of((await login(client))["accessToken"]) == old
        clock.advance(eddsa.jwt.key_publish_ahead)
        new_token = (await login(client))["accessToken"]
        assert kid_of(new_token) == new.kid
        assert await me(client, old_token) == 200
        assert await me(client, new_token) == 200
        # Retired: published until the last token it signed has expired, then gone.
        clock.advance(eddsa.jwt.access_ttl - timedelta(seconds=5))
        await refreshed(eddsa)
        assert {k["kid"] for k in (await jwks(client))["keys"]} == {old, new.kid}
        clock.advance(timedelta(seconds=10))
        await refreshed(eddsa)
        assert [k["kid"] for k in (await jwks(client))["keys"]] == [new.kid]

    async def test_on_schedule(self, aiohttp_client: Any,
                               make_config: Callable[..., Config]) -> None:
        config = make_config(jwt={"algorithm": "EdDSA", "rotate_every": timedelta(seconds=30)})
        clock = Clock()
        client = await aiohttp_client(build_app(config, clock=clock))
        first = kid_of((await register(client))["accessToken"])
        clock.advance(timedelta(seconds=29))  # within publish-ahead (2s) of the schedule
        await refreshed(config)
        published = {k["kid"] for k in (await jwks(client))["keys"]}
        assert len(published) == 2
        assert first in published
        assert kid_of((await login(client))["accessToken"]) == first
        clock.advance(timedelta(seconds=2))  # signs publish-ahead after it was published
        await refreshed(config)
        assert kid_of((await login(client))["accessToken"]) == (published - {first}).pop()

    async def test_revoked_key_is_gone_and_its_tokens_refused(
            self, clocked: tuple[TestClient, Clock], eddsa: Config) -> None:  # type: ignore[type-arg]
        client, clock = clocked
        token = (await register(client))["accessToken"]
        assert await me(client, token) == 200  # verified once: in the token cache now
        kid = kid_of(token)
        await revoke(db_of(client), eddsa.jwt, decode_kek(eddsa.jwt.key_encryption_key), kid,
                     clock.now)
        await refreshed(eddsa)
        resp = await client.get(ME, headers=bearer(token))
        assert (resp.status, (await resp.json())["error"]) == (401, "Invalid token")
        keys = (await jwks(client))["keys"]
        assert kid not in {k["kid"] for k in keys}
        assert len(keys) == 1
        fresh = (await login(client))["accessToken"]  # a replacement signs at once
        assert kid_of(fresh) == keys[0]["kid"]
        assert await me(client, fresh) == 200
