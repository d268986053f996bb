"""Issue 16 item 3a: registering and managing passkeys over HTTP, against a software
authenticator. A registration challenge works once, for 5 minutes, for the user it was
handed to; an answer made for another origin or relying party is refused; adding and
removing a passkey need a recent sign-in or the current password."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from server.core.config import Config
from tests._app import Clock, bearer
from tests.handlers._auth import AUTH, PASSWORD, clocked_client, db_of, register
from tests.handlers._mfa import Client
from tests.handlers._passkeys import (
    PASSKEYS,
    SoftAuthenticator,
    add_passkey,
    post,
    register_options,
)

LATER = timedelta(minutes=6)  # past the challenge's life and security.reauth_window


@pytest.fixture
async def ada(aiohttp_client: Any, config: Config) -> tuple[Client, Clock, str]:
    client, clock = await clocked_client(aiohttp_client, config)
    return client, clock, (await register(client))["accessToken"]


async def answer_registration(client: Client, access: str, answer: dict[str, Any],
                              **extra: Any) -> tuple[int, dict[str, Any]]:
    return await post(client, f"{PASSKEYS}/register/verify", {"credential": answer, **extra},
                      access)


class TestRegister:
    async def test_options_ask_for_a_discoverable_passkey_of_this_user(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        options = await register_options(client, access)
        user = await db_of(client).users.find_one({})
        assert options["rp"] == {"name": "Gatehouse", "id": "localhost"}
        assert options["user"]["name"] == "ada@example.com"
        assert options["authenticatorSelection"]["residentKey"] == "required"
        assert len(options["challenge"]) >= 43  # 32 random bytes
        stored = await db_of(client).webauthn_challenges.find_one({})
        assert stored["user"] == str(user["_id"])
        assert stored["_id"] != options["challenge"]

    async def test_register_list_rename_remove(self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        added = await add_passkey(client, access, SoftAuthenticator(), name="Laptop")
        assert added["name"] == "Laptop"
        assert added["deviceType"] == "single_device"
        resp = await client.get(PASSKEYS, headers=bearer(access))
        listed = (await resp.json())["data"]["passkeys"]
        assert [p["id"] for p in listed] == [added["id"]]
        assert "publicKey" not in listed[0]
        me = await (await client.get("/api/v1/users/me", headers=bearer(access))).json()
        assert me["data"]["user"]["mfa"]["passkeys"] == 1
        resp = await client.patch(f"{PASSKEYS}/{added['id']}", headers=bearer(access),
                                  json={"name": "Desk key"})
        assert resp.status == 200, await resp.json()
        listed = (await (await client.get(PASSKEYS, headers=bearer(access))).json())
        assert listed["data"]["passkeys"][0]["name"] == "Desk key"
        resp = await client.delete(f"{PASSKEYS}/{added['id']}", headers=bearer(access),
                                   json={"currentPassword": PASSWORD})
        assert resp.status == 200, await resp.json()
        listed = (await (await client.get(PASSKEYS, headers=bearer(access))).json())
        assert listed["data"]["passkeys"] == []
        resp = await client.delete(f"{PASSKEYS}/{added['id']}", headers=bearer(access),
                                   json={})
        assert (resp.status, (await resp.json())["code"]) == (404, "PASSKEY_NOT_FOUND")

    async def test_a_challenge_works_once(self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        answer = SoftAuthenticator().create(await register_options(client, access))
        assert (await answer_registration(client, access, answer))[0] == 200
        status, body = await answer_registration(client, access, answer)
        assert (status, body["code"]) == (400, "PASSKEY_CHALLENGE_INVALID")

    async def test_an_expired_challenge_is_refused(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, clock, access = ada
        answer = SoftAuthenticator().create(await register_options(client, access))
        clock.advance(LATER)
        status, body = await answer_registration(client, access, answer,
                                                 currentPassword=PASSWORD)
        assert (status, body["code"]) == (400, "PASSKEY_CHALLENGE_INVALID")

    @pytest.mark.parametrize("lie", [{"origin": "https://evil.example"},
                                     {"origin": "http://localhost:3001"},
                                     {"rp_id": "evil.example"}])
    async def test_another_origin_or_relying_party_is_refused(
            self, ada: tuple[Client, Clock, str], lie: dict[str, str]) -> None:
        client, _, access = ada
        answer = SoftAuthenticator().create(await register_options(client, access), **lie)
        status, body = await answer_registration(client, access, answer)
        assert (status, body["code"]) == (400, "PASSKEY_REJECTED")
        assert (await db_of(client).users.find_one({})).get("mfa") is None

    async def test_another_users_challenge_is_refused(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        bob = (await register(client, "bob@example.com"))["accessToken"]
        answer = SoftAuthenticator().create(await register_options(client, access))
        status, body = await answer_registration(client, bob, answer)
        assert (status, body["code"]) == (400, "PASSKEY_CHALLENGE_INVALID")

    async def test_garbage_answers_are_400_not_500(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        for answer in ({}, {"response": {"clientDataJSON": "!!"}},
                       {"id": "x", "response": {"clientDataJSON": "e30"}}):
            status, body = await answer_registration(client, access, answer)
            assert status == 400, body


    async def test_at_most_ten_passkeys(self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        authenticator = SoftAuthenticator()
        options = [await register_options(client, access) for _ in range(11)]
        for made in options[:10]:
            status, body = await answer_registration(client, access,
                                                     authenticator.create(made))
            assert status == 200, body
        status, body = await answer_registration(client, access,
                                                 authenticator.create(options[10]))
        assert (status, body["code"]) == (409, "PASSKEY_LIMIT_REACHED")
        status, body = await post(client, f"{PASSKEYS}/register/options", {}, access)
        assert (status, body["code"]) == (409, "PASSKEY_LIMIT_REACHED")


class TestRecentAuthentication:
    async def test_adding_long_after_sign_in_needs_the_password(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, clock, access = ada
        clock.advance(LATER)
        authenticator = SoftAuthenticator()
        answer = authenticator.create(await register_options(client, access))
        status, body = await answer_registration(client, access, answer)
        assert (status, body["code"]) == (401, "REAUTH_REQUIRED")
        status, body = await answer_registration(client, access, answer,
                                                 currentPassword="Wr0ng!Passw0rd")
        assert (status, body["code"]) == (400, "CURRENT_PASSWORD_INCORRECT")
        answer = authenticator.create(await register_options(client, access))
        status, body = await answer_registration(client, access, answer,
                                                 currentPassword=PASSWORD)
        assert status == 200, body

    async def test_removing_long_after_sign_in_needs_the_password_and_a_passkey(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, clock, access = ada
        keys = SoftAuthenticator()
        added = await add_passkey(client, access, keys)
        clock.advance(LATER)
        path = f"{PASSKEYS}/{added['id']}"
        resp = await client.delete(path, headers=bearer(access), json={})
        assert (resp.status, (await resp.json())["code"]) == (401, "REAUTH_REQUIRED")
        # A passkey is a factor: the password alone is no longer enough (issue 16 item 5).
        resp = await client.delete(path, headers=bearer(access),
                                   json={"currentPassword": PASSWORD})
        assert (resp.status, (await resp.json())["code"]) == (401, "REAUTH_REQUIRED")
        options = (await post(client, f"{AUTH}/reauth/passkey/options", {}, access))[1]
        answer = keys.get(options["data"]["publicKey"])
        resp = await client.delete(path, headers=bearer(access), json={
            "currentPassword": "Wr0ng!Passw0rd", "passkey": answer})
        assert (resp.status, (await resp.json())["code"]) == (400, "CURRENT_PASSWORD_INCORRECT")
        resp = await client.delete(path, headers=bearer(access), json={
            "currentPassword": PASSWORD, "passkey": answer})
        assert resp.status == 200, await resp.json()

    async def test_another_users_passkey_cannot_be_renamed_or_removed(
            self, ada: tuple[Client, Clock, str]) -> None:
        client, _, access = ada
        added = await add_passkey(client, access, SoftAuthenticator())
        bob = (await register(client, "bob@example.com"))["accessToken"]
        path = f"{PASSKEYS}/{added['id']}"
        resp = await client.patch(path, headers=bearer(bob), json={"name": "mine"})
        assert resp.status == 404
        resp = await client.delete(path, headers=bearer(bob), json={"currentPassword": PASSWORD})
        assert resp.status == 404
        for bad in ("a.b", "$where", "x" * 10):
            resp = await client.patch(f"{PASSKEYS}/{bad}", headers=bearer(access),
                                      json={"name": "x"})
            assert resp.status == 404
