"""Issue 16: guessing second-factor codes spends the per-IP credential budget (on top of the
account lockout), whichever route the guesses go to."""

from __future__ import annotations

from typing import Any

from tests.handlers._mfa import MFA


class TestCodesSpendTheCredentialBudget:
    async def test_verify_and_confirm_share_the_credential_budget(
            self, limited: Any, limited_client: Any) -> None:
        client = await limited_client(limited(max=50, auth_max=3))
        first = await client.post(f"{MFA}/verify", json={"mfaToken": "x", "code": "123456"})
        assert first.status == 401
        assert first.headers["RateLimit-Limit"] == "3"
        await client.post(f"{MFA}/totp/confirm", json={"code": "123456"})
        await client.post(f"{MFA}/verify", json={"mfaToken": "x", "code": "123456"})
        rejected = await client.post(f"{MFA}/verify", json={"mfaToken": "x", "code": "123456"})
        assert rejected.status == 429
