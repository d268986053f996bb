"""Issue 16 item 7: the account's address is told when a second factor is added or removed
and when a recovery code signs in; no notice carries a token or link, and no log line ever
holds a TOTP secret, a code, a recovery code or an mfaToken."""

from __future__ import annotations

import io
from typing import Any

import pytest

from server.core.config import Config, SmtpConfig
from tests._app import Clock, bearer
from tests.conftest import SmtpSink
from tests.handlers._auth import PASSWORD, clocked_client, register
from tests.handlers._mail import assert_no_token, mail_to
from tests.handlers._mfa import MFA, Client, code_at, enrol, mfa_token, verify

ADA = "ada@example.com"


@pytest.fixture
def config(make_config: Any, smtp_config: SmtpConfig) -> Config:
    return make_config(mail={"backend": "smtp", "smtp": smtp_config})  # type: ignore[no-any-return]


@pytest.fixture
async def ada(aiohttp_client: Any, config: Config) -> tuple[Client, Clock, str]:
    client, clock = await clocked_client(aiohttp_client, config)
    return client, clock, (await register(client))["accessToken"]



class TestNotices:
    async def test_factor_added_recovery_code_used_and_factor_removed(
            self, ada: tuple[Client, Clock, str], smtp_server: SmtpSink) -> None:
        client, clock, access = ada
        secret, codes = await enrol(client, access, clock)
        assert_no_token(await mail_to(smtp_server, ADA,
                                      "A second factor was added to your account"))
        status, _ = await verify(client, await mfa_token(client), recoveryCode=codes[0])
        assert status == 200
        used = await mail_to(smtp_server, ADA, "A recovery code was used to sign in")
        assert_no_token(used)
        assert "9 unused codes left" in SmtpSink.parts(used)[0]
        resp = await client.delete(f"{MFA}/totp", headers=bearer(access), json={
            "currentPassword": PASSWORD, "code": code_at(secret, clock())})
        assert resp.status == 200
        assert_no_token(await mail_to(smtp_server, ADA,
                                      "A second factor was removed from your account"))


class TestLogs:
    async def test_no_secret_code_or_mfa_token_is_logged(
            self, ada: tuple[Client, Clock, str], service_log: io.StringIO) -> None:
        client, clock, access = ada
        secret, codes = await enrol(client, access, clock)
        token = await mfa_token(client)
        wrong = code_at(secret, clock(), 300)
        assert (await verify(client, token, code=wrong))[0] == 401
        right = code_at(secret, clock())
        assert (await verify(client, token, code=right))[0] == 200
        assert (await verify(client, await mfa_token(client), recoveryCode=codes[1]))[0] == 200
        logged = service_log.getvalue()
        assert "mfa_challenge_issued" in logged  # the log was captured
        for value in (secret, token, *codes):
            assert value not in logged
        # Six digits may occur inside a timestamp or an id by chance: look for them as values.
        for code in (wrong, right):
            assert f'"{code}"' not in logged
