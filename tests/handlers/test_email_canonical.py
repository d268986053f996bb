"""Issue 13 item 8 over HTTP: an email address has one canonical form (NFKC, trimmed,
lower-cased, ASCII), the forms that have none are refused with 400 naming `email` on every
route that takes one, and look-alikes of an address reach that address's one account."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.core.config import Config, SmtpConfig
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, PASSWORD, db_of, mailed_tokens, person, register
from tests.handlers._users import call, person_of

# Each has no canonical form: accepted today as an identity of its own.
REFUSED = [
    pytest.param('"ada"@example.com', id="quoted-local-part"),
    pytest.param('"a da"@example.com', id="quoted-with-space"),
    pytest.param("ada@[127.0.0.1]", id="ipv4-literal"),
    pytest.param("ada@[IPv6:2001:db8::1]", id="ipv6-literal"),
    pytest.param("ada@localhost", id="localhost"),
    pytest.param("ada@example", id="dotless-domain"),
    pytest.param("ada@10.0.0.1", id="bare-ip-domain"),
    pytest.param("ada@example.com\n", id="trailing-newline"),
    pytest.param('"a\x01da"@example.com', id="control-in-quotes"),
    pytest.param("a\x7fda@example.com", id="delete-char"),
    pytest.param("a\u200bda@example.com", id="zero-width-space"),
    pytest.param("\u0430da@example.com", id="cyrillic-look-alike"),
    pytest.param("ada@b\u00fccher.de", id="idn-u-label"),
    pytest.param("stra\u00dfe@example.com", id="sharp-s"),
    pytest.param("ada@example.com.", id="trailing-dot"),
    pytest.param("a..da@example.com", id="double-dot"),
]

# Compatibility forms of ADA@example.com: NFKC + lower-case makes each `ada@example.com`.
LOOK_ALIKES = [
    pytest.param("\uff21\uff24\uff21@example.com", id="fullwidth-upper"),
    pytest.param("\uff41\uff44\uff41@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43"
                 "\uff4f\uff4d", id="fullwidth-everything"),
    pytest.param("\U0001d41a\U0001d41d\U0001d41a@example.com", id="math-bold"),
    pytest.param("\u24d0\u24d3\u24d0@EXAMPLE.COM", id="circled"),
    pytest.param("\u3000ada@example.com\u3000", id="ideographic-spaces"),
]


def names_email(body: dict[str, Any]) -> bool:
    return body.get("code") == "VALIDATION_ERROR" and "email" in {
        error["field"] for error in body.get("errors", [])}


async def post(client: TestClient, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # type: ignore[type-arg]
    resp = await client.post(f"{AUTH}/{path}", json=body)
    return resp.status, await resp.json()


class TestRefusedForms:
    @pytest.mark.parametrize("email", REFUSED)
    async def test_register_is_400_and_creates_nothing(self, client: TestClient,  # type: ignore[type-arg]
                                                       email: str) -> None:
        status, body = await post(client, "register", person(email))
        assert (status, names_email(body)) == (400, True), body
        assert await db_of(client).users.count_documents({}) == 0

    @pytest.mark.parametrize("email", REFUSED)
    async def test_login_is_400(self, client: TestClient, email: str) -> None:  # type: ignore[type-arg]
        status, body = await post(client, "login", {"email": email, "password": PASSWORD})
        assert (status, names_email(body)) == (400, True), body

    @pytest.mark.parametrize("email", REFUSED)
    async def test_forgot_password_is_400(self, client: TestClient, email: str) -> None:  # type: ignore[type-arg]
        status, body = await post(client, "forgot-password", {"email": email})
        assert (status, names_email(body)) == (400, True), body

    @pytest.mark.parametrize("email", REFUSED)
    async def test_patch_me_is_400_and_changes_nothing(self, client: TestClient,  # type: ignore[type-arg]
                                                       email: str) -> None:
        me = await person_of(client)
        status, body = await call(client, "PATCH", "/me", me,
                                  json={"email": email, "currentPassword": PASSWORD})
        assert status == 400
        assert "email" in {error["field"] for error in body["errors"]}, body
        doc = await db_of(client).users.find_one({})
        assert doc["email"] == me.email


class TestLookAlikes:
    @pytest.mark.parametrize("email", LOOK_ALIKES)
    async def test_registering_a_look_alike_is_409(self, client: TestClient,  # type: ignore[type-arg]
                                                   email: str) -> None:
        await register(client, "ada@example.com")
        status, body = await post(client, "register", person(email))
        assert status == 409, body
        assert await db_of(client).users.count_documents({}) == 1

    @pytest.mark.parametrize("email", LOOK_ALIKES)
    async def test_a_look_alike_signs_in_to_the_one_account(self, client: TestClient,  # type: ignore[type-arg]
                                                            email: str) -> None:
        ada = await register(client, "ada@example.com")
        status, body = await post(client, "login", {"email": email, "password": PASSWORD})
        assert status == 200, body
        assert body["data"]["user"]["id"] == ada["user"]["id"]
        assert body["data"]["user"]["email"] == "ada@example.com"

    async def test_a_look_alike_registers_the_canonical_address(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, body = await post(client, "register", person("\uff21\uff24\uff21@example.com"))
        assert status == 201, body
        assert body["data"]["user"]["email"] == "ada@example.com"
        assert (await post(client, "register", person("ada@example.com")))[0] == 409
        assert await db_of(client).users.find_one({"email": "ada@example.com"}) is not None

    async def test_forgot_password_for_a_look_alike_mails_the_account(
            self, make_client: Any, make_config: Any, smtp_server: SmtpSink,
            smtp_config: SmtpConfig) -> None:
        config: Config = make_config(mail={"backend": "smtp", "smtp": smtp_config})
        client = await make_client(config)
        await register(client, "ada@example.com")
        status, _ = await post(client, "forgot-password",
                               {"email": "\uff21\uff24\uff21@example.com"})
        assert status == 200
        assert len(await mailed_tokens(smtp_server, "ada@example.com", "reset-password")) == 1
