"""Issue 16 item 6: security.mfa_required_roles. An account in such a role without a second
factor signs in but reaches only the enrolment routes (its profile, TOTP setup and confirm,
sign-out); everything else answers 403 MFA_ENROLMENT_REQUIRED until it enrols."""

from __future__ import annotations

from typing import Any

import pytest

from server.core.config import Config
from tests._app import Clock, bearer
from tests.handlers._auth import AUTH, clocked_client
from tests.handlers._mfa import Client, enrol
from tests.handlers._users import USERS, person_of


@pytest.fixture
def config(make_config: Any) -> Config:
    return make_config(security={"bcrypt_rounds": 4, "mfa_required_roles": ("admin",)})  # type: ignore[no-any-return]


@pytest.fixture
async def clocked(aiohttp_client: Any, config: Config) -> tuple[Client, Clock]:
    return await clocked_client(aiohttp_client, config)


class TestMfaRequiredRoles:
    async def test_an_admin_without_a_factor_reaches_only_enrolment(
            self, clocked: tuple[Client, Clock]) -> None:
        client, clock = clocked
        admin = await person_of(client, "admin")
        resp = await client.get(USERS, headers=admin.auth)
        assert (resp.status, (await resp.json())["code"]) == (403, "MFA_ENROLMENT_REQUIRED")
        resp = await client.get(f"{AUTH}/sessions", headers=admin.auth)
        assert resp.status == 403
        me = await client.get(f"{USERS}/me", headers=admin.auth)
        assert me.status == 200
        await enrol(client, admin.token, clock)  # setup and confirm are reachable
        assert (await client.get(USERS, headers=admin.auth)).status == 200

    async def test_an_admin_without_a_factor_can_sign_out(
            self, clocked: tuple[Client, Clock]) -> None:
        client, _ = clocked
        admin = await person_of(client, "admin")
        resp = await client.post(f"{AUTH}/logout", headers=admin.auth, json={})
        assert resp.status == 200

    async def test_other_roles_are_not_asked(self, clocked: tuple[Client, Clock]) -> None:
        client, _ = clocked
        for role in ("user", "moderator"):
            person = await person_of(client, role)
            resp = await client.get(f"{AUTH}/sessions", headers=bearer(person.token))
            assert resp.status == 200
