"""Issue 13 item 19: correctly signed access tokens with claims of the wrong type, a lifetime
longer than jwt.access_ttl, or ids of the wrong shape are refused (GET /users/me, 401)."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from server.core.config import Config
from tests._app import bearer
from tests.handlers._auth import register

ME = "/api/v1/users/me"
TTL = 15 * 60  # tests/config.test.yaml keeps the default jwt.access_ttl

# Times are relative to the genuine token's iat (`c`), never to the import: the suite may run
# longer than the offsets below.
CASES: dict[str, Any] = {
    "exp 1e30": lambda c: {"exp": 1e30},
    "exp a numeric string": lambda c: {"exp": str(c["iat"] + 600)},
    "exp a float": lambda c: {"exp": c["iat"] + 600.5},
    "exp a boolean": lambda c: {"exp": True, "iat": 0},
    "exp far away (a lifetime of a year)": lambda c: {"exp": c["iat"] + 365 * 86400},
    "exp one ttl plus two seconds after iat": lambda c: {"exp": c["iat"] + TTL + 2},
    "iat long ago, exp still ahead": lambda c: {"iat": c["iat"] - 3600, "exp": c["iat"] + 600},
    "iat a numeric string": lambda c: {"iat": str(c["iat"])},
    "iat a float": lambda c: {"iat": c["iat"] + 0.5},
    "iat a boolean": lambda c: {"iat": False},
    "iat in the future": lambda c: {"iat": c["iat"] + 3600, "exp": c["iat"] + 3600 + TTL},
    "nbf a numeric string": lambda c: {"nbf": "0"},
    "nbf a float": lambda c: {"nbf": 1e30},
    "nbf in the future": lambda c: {"nbf": c["iat"] + 600},
    "sub in upper case": lambda c: {"sub": c["sub"].upper()},
    "sub with a prefix": lambda c: {"sub": "ObjectId:" + c["sub"]},
    "sub not an id": lambda c: {"sub": "admin"},
    "sub a number": lambda c: {"sub": 12345},
    "sid in upper case": lambda c: {"sid": c["sid"].upper()},
    "sid not an id": lambda c: {"sid": "x" * 24},
}


async def genuine(client: TestClient) -> dict[str, Any]:  # type: ignore[type-arg]
    token = (await register(client))["accessToken"]
    return jwt.decode(token, options={"verify_signature": False})  # type: ignore[no-any-return]


async def me_with(client: TestClient, config: Config,  # type: ignore[type-arg]
                  claims: dict[str, Any]) -> tuple[int, str]:
    token = jwt.encode(claims, config.jwt.secret, algorithm="HS256")
    resp = await client.get(ME, headers=bearer(token))
    return resp.status, (await resp.json()).get("error", "")


class TestClaimShapes:
    async def test_the_genuine_token_and_its_exact_lifetime_pass(
            self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        claims = await genuine(client)
        assert claims["exp"] - claims["iat"] == TTL
        assert (await me_with(client, config, claims))[0] == 200
        # One second of leeway on the lifetime (clocks round to whole seconds), and a
        # not-before that has passed is fine.
        assert (await me_with(client, config, {**claims, "exp": claims["exp"] + 1}))[0] == 200
        assert (await me_with(client, config, {**claims, "nbf": claims["iat"]}))[0] == 200

    @pytest.mark.parametrize("case", list(CASES))
    async def test_a_signed_token_with_a_bad_claim_is_invalid(
            self, client: TestClient, config: Config, case: str) -> None:  # type: ignore[type-arg]
        claims = await genuine(client)
        forged = {**claims, **CASES[case](claims)}
        assert await me_with(client, config, forged) == (401, "Invalid token")
