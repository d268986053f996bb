"""Attack: what a stolen access token (its sign-in older than security.reauth_window) can do
to the second factors on the routes around step-up.

- DELETE /auth/mfa/totp checks the password and the code outside the login lockout, so the
  token buys unlimited code guesses (and password guesses), unlike every other step-up.
- POST /auth/mfa/recovery-codes/regenerate needs no step-up at all: the token mints ten
  fresh recovery codes (a working second factor) and voids the owner's.
- POST /auth/mfa/totp/setup + confirm adds a factor without step-up, while adding a passkey
  needs it (step_up.require_admin's rule)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server.core.config import Config
from tests._app import bearer
from tests.handlers._auth import PASSWORD, clocked_client, register
from tests.handlers._mfa import MFA, code_at, enrol, mfa_token, start_login, verify
from tests.handlers._passkeys import SoftAuthenticator, add_passkey

LATER = timedelta(minutes=6)  # past the 5-minute window, inside the 15-minute access token


async def _signed_in_with_totp(client: Any, clock: Any) -> tuple[str, str]:
    """Ada with TOTP, signed in with it; (secret, access token) with the sign-in now old."""
    secret, _ = await enrol(client, (await register(client))["accessToken"], clock)
    status, body = await verify(client, await mfa_token(client), code=code_at(secret, clock()))
    assert status == 200, body
    clock.advance(LATER)
    return secret, body["data"]["accessToken"]


async def test_totp_removal_code_guesses_count_toward_the_lockout(
        aiohttp_client: Any, config: Config) -> None:
    client, clock = await clocked_client(aiohttp_client, config)
    secret, access = await _signed_in_with_totp(client, clock)
    wrong = code_at(secret, clock(), 300)
    statuses = []
    for _ in range(7):
        resp = await client.delete(f"{MFA}/totp", headers=bearer(access),
                                   json={"currentPassword": PASSWORD, "code": wrong})
        statuses.append(resp.status)
    # As on every other step-up route: five checked guesses, then the account is locked.
    assert statuses == [400] * 5 + [423] * 2, statuses
    assert (await start_login(client))[0] == 423


async def test_regenerating_recovery_codes_needs_a_recent_sign_in(
        aiohttp_client: Any, config: Config) -> None:
    client, clock = await clocked_client(aiohttp_client, config)
    _, access = await _signed_in_with_totp(client, clock)
    resp = await client.post(f"{MFA}/recovery-codes/regenerate", headers=bearer(access),
                             json={})
    body = await resp.json()
    assert (resp.status, body.get("code")) == (401, "REAUTH_REQUIRED"), body


async def test_adding_totp_to_a_passkey_account_needs_a_recent_sign_in(
        aiohttp_client: Any, config: Config) -> None:
    client, clock = await clocked_client(aiohttp_client, config)
    access = (await register(client))["accessToken"]
    await add_passkey(client, access, SoftAuthenticator())
    clock.advance(LATER)
    # The same stale token may not add a passkey ...
    resp = await client.post(f"{MFA}/passkeys/register/options", headers=bearer(access),
                             json={})
    answer = SoftAuthenticator().create((await resp.json())["data"]["publicKey"])
    resp = await client.post(f"{MFA}/passkeys/register/verify", headers=bearer(access),
                             json={"credential": answer, "name": "Thief"})
    assert resp.status == 401, await resp.text()
    # ... so it may not add the other factor either.
    resp = await client.post(f"{MFA}/totp/setup", headers=bearer(access), json={})
    body = await resp.json()
    if resp.status == 200:
        resp = await client.post(f"{MFA}/totp/confirm", headers=bearer(access),
                                 json={"code": code_at(body["data"]["secret"], clock())})
        body = await resp.json()
    assert (resp.status, body.get("code")) == (401, "REAUTH_REQUIRED"), body
