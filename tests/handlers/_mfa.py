"""Helpers for the second-factor tests: enrol TOTP over HTTP, codes at a given time, the
two sign-in steps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt
import pyotp
from aiohttp.test_utils import TestClient

from tests._app import Clock, bearer
from tests.handlers._auth import AUTH, PASSWORD

MFA = f"{AUTH}/mfa"
Client = TestClient  # type: ignore[type-arg]


def code_at(secret: str, when: datetime, shift: float = 0) -> str:
    """The authenticator app's code at `when` + `shift` seconds."""
    return pyotp.TOTP(secret).at(when + timedelta(seconds=shift))


async def enrol(client: Client, access: str, clock: Clock) -> tuple[str, list[str]]:
    """Set up and confirm TOTP for the bearer of `access`; (secret, recovery codes). The
    clock then moves three steps on, so the confirming code's step is behind even the
    previous step's code (which the drift window accepts)."""
    resp = await client.post(f"{MFA}/totp/setup", headers=bearer(access), json={})
    body = await resp.json()
    assert resp.status == 200, body
    secret = body["data"]["secret"]
    resp = await client.post(f"{MFA}/totp/confirm", headers=bearer(access),
                             json={"code": code_at(secret, clock())})
    body = await resp.json()
    assert resp.status == 200, body
    clock.advance(timedelta(seconds=90))
    return secret, body["data"]["recoveryCodes"]


async def start_login(client: Client, email: str = "ada@example.com",
                      password: str = PASSWORD) -> tuple[int, dict[str, Any], Any]:
    """POST /login: (status, body, the response's cookies)."""
    client.session.cookie_jar.clear()
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    return resp.status, await resp.json(), resp.cookies


async def mfa_token(client: Client, email: str = "ada@example.com") -> str:
    status, body, _ = await start_login(client, email)
    assert status == 200, body
    assert body["data"]["mfaRequired"] is True, body
    return str(body["data"]["mfaToken"])


async def verify(client: Client, token: str, **factor: str) -> tuple[int, dict[str, Any]]:
    client.session.cookie_jar.clear()
    resp = await client.post(f"{MFA}/verify", json={"mfaToken": token, **factor})
    body = await resp.json()
    if resp.status == 200:
        body["refreshCookie"] = resp.cookies["refreshToken"].value
    return resp.status, body


def claims(access: str) -> dict[str, Any]:
    return jwt.decode(access, options={"verify_signature": False})  # type: ignore[no-any-return]
