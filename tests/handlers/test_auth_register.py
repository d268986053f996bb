"""POST /api/v1/auth/register over HTTP: success shape, cookie, mail, validation, duplicates."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.core.config import SmtpConfig
from server.security import verify_password
from tests._app import bearer
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, PASSWORD, db_of, login, mailed_tokens, person

COMPLEXITY = ("Password must contain at least one uppercase letter, one lowercase letter, "
              "one number, and one special character")


async def post(client: TestClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:  # type: ignore[type-arg]
    resp = await client.post(f"{AUTH}/register", json=body)
    return resp.status, await resp.json()


class TestRegisterSuccess:
    async def test_answers_201_with_user_token_and_message(self, client: TestClient) -> None:  # type: ignore[type-arg]
        resp = await client.post(f"{AUTH}/register", json=person(" Ada@Example.COM "))
        body = await resp.json()
        assert resp.status == 201
        assert "registered successfully" in body["message"]
        user = body["data"]["user"]
        assert set(user) == {"id", "firstName", "lastName", "email", "role", "isEmailVerified"}
        assert user["email"] == "ada@example.com"
        assert user["role"] == "user"
        assert user["isEmailVerified"] is False
        assert len(user["id"]) == 24
        sessions = await client.get(f"{AUTH}/sessions",
                                    headers=bearer(body["data"]["accessToken"]))
        assert sessions.status == 200

    async def test_sets_the_refresh_cookie_with_the_contract_attributes(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        resp = await client.post(f"{AUTH}/register", json=person())
        header = resp.headers["Set-Cookie"]
        assert header.startswith("refreshToken=")
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/api/v1/auth",
                          "Max-Age=604800"):
            assert attribute in header
        assert "Secure" not in header

    async def test_cookie_is_secure_in_production(self, make_config: Any,
                                                  make_client: Any) -> None:
        client = await make_client(make_config({"APP__ENVIRONMENT": "production"}))
        resp = await client.post(f"{AUTH}/register", json=person())
        assert resp.status == 201
        assert "Secure" in resp.headers["Set-Cookie"]

    async def test_stores_a_bcrypt_hash_never_the_password(self, client: TestClient) -> None:  # type: ignore[type-arg]
        await client.post(f"{AUTH}/register", json=person())
        doc = await db_of(client).users.find_one({"email": "ada@example.com"})
        assert doc["password"].startswith("$2b$04$")
        assert PASSWORD not in str(doc)
        assert await verify_password(PASSWORD, doc["password"], 4)
        assert doc["preferences"] == {"theme": "light", "notifications": True, "language": "en"}
        assert doc["loginAttempts"] == 0
        assert doc["isActive"] is True

    async def test_mails_a_verification_link_and_stores_only_its_hash(
            self, make_config: Any, make_client: Any, smtp_server: SmtpSink,
            smtp_config: SmtpConfig) -> None:
        client = await make_client(make_config(mail={"backend": "smtp", "smtp": smtp_config}))
        await client.post(f"{AUTH}/register", json=person())
        tokens = await mailed_tokens(smtp_server, "ada@example.com", "verify-email")
        assert len(tokens) == 1
        doc = await db_of(client).users.find_one({"email": "ada@example.com"})
        assert tokens[0] not in str(doc)
        assert len(doc["emailVerificationToken"]) == 64

    async def test_optional_fields_are_stored(self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, _ = await post(client, person(phoneNumber="+1 (555) 123-4567",
                                              dateOfBirth="1990-04-01"))
        assert status == 201
        doc = await db_of(client).users.find_one({"email": "ada@example.com"})
        assert doc["phoneNumber"] == "+1 (555) 123-4567"
        assert doc["dateOfBirth"].date().isoformat() == "1990-04-01"

    async def test_names_are_trimmed(self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, body = await post(client, {**person(), "firstName": "  Ada  "})
        assert status == 201
        assert body["data"]["user"]["firstName"] == "Ada"


class TestRegisterValidation:
    async def test_invalid_email(self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, body = await post(client, person("not-an-email"))
        assert status == 400
        assert "valid email" in body["error"]
        assert body["code"] == "VALIDATION_ERROR"
        assert body["errors"][0]["field"] == "email"

    async def test_weak_password_gets_the_complexity_message_first(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, body = await post(client, {**person(), "password": "weak"})
        assert status == 400
        assert body["error"] == COMPLEXITY
        messages = [e["message"] for e in body["errors"]]
        assert messages == [COMPLEXITY, "Password must be between 8 and 128 characters"]

    @pytest.mark.parametrize("password", ["Sh0rt!", "Aa1!" * 32 + "x"])
    async def test_password_length_is_8_to_128(self, client: TestClient,  # type: ignore[type-arg]
                                               password: str) -> None:
        status, body = await post(client, {**person(), "password": password})
        assert status == 400
        assert body["error"] == "Password must be between 8 and 128 characters"

    async def test_every_character_of_a_long_unicode_password_counts(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        # 40 three-byte characters: 120 bytes, far beyond bcrypt's 72-byte input.
        password = "Ä1!" + "€" * 40 + "a"
        status, _ = await post(client, {**person(), "password": password})
        assert status == 201
        near_miss = password[:-1] + "b"
        resp = await client.post(f"{AUTH}/login", json={"email": "ada@example.com",
                                                         "password": near_miss})
        assert resp.status == 401
        assert (await login(client, password=password))["accessToken"]

    async def test_password_is_not_altered(self, client: TestClient) -> None:  # type: ignore[type-arg]
        password = "  <Tag>1a!  "
        status, _ = await post(client, {**person(), "password": password})
        assert status == 201
        assert (await login(client, password=password))["accessToken"]

    @pytest.mark.parametrize(("field", "value", "message"), [
        ("firstName", "   ", "First name must be between 1 and 50 characters"),
        ("lastName", "x" * 51, "Last name must be between 1 and 50 characters"),
        ("phoneNumber", "12345", "Please provide a valid phone number"),
        ("dateOfBirth", "2999-01-01", "Date of birth must be in the past"),
        ("dateOfBirth", "yesterday", "Date of birth must be a valid date (YYYY-MM-DD)"),
        ("email", {"$gt": ""}, "Please provide a valid email"),
    ])
    async def test_field_rules(self, client: TestClient, field: str, value: Any,  # type: ignore[type-arg]
                               message: str) -> None:
        status, body = await post(client, {**person(), field: value})
        assert status == 400
        assert body["error"] == message

    async def test_missing_fields_are_all_listed(self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, body = await post(client, {})
        assert status == 400
        assert {e["field"] for e in body["errors"]} == {"firstName", "lastName", "email",
                                                         "password"}

    @pytest.mark.parametrize("field", ["role", "isActive", "isEmailVerified"])
    async def test_unknown_or_privileged_fields_are_refused(
            self, client: TestClient, field: str) -> None:  # type: ignore[type-arg]
        status, body = await post(client, {**person(), field: "admin"})
        assert status == 400
        assert body["errors"][0]["field"] == field
        assert await db_of(client).users.count_documents({}) == 0


class TestRegisterDuplicate:
    async def test_same_email_in_another_case_is_409(self, client: TestClient) -> None:  # type: ignore[type-arg]
        assert (await post(client, person()))[0] == 201
        status, body = await post(client, person("ADA@EXAMPLE.com"))
        assert status == 409
        assert body["error"] == "User already exists with this email"
        assert await db_of(client).users.count_documents({}) == 1

    async def test_simultaneous_sign_ups_with_one_email_create_one_user(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        results = await asyncio.gather(*(post(client, person(f"{'ADA' if n % 2 else 'ada'}"
                                                              "@example.com"))
                                         for n in range(6)))
        assert sorted(status for status, _ in results) == [201] + [409] * 5
        assert await db_of(client).users.count_documents({}) == 1

    async def test_a_refused_sign_up_leaves_no_mail_queued(self, client: TestClient) -> None:  # type: ignore[type-arg]
        # The verification mail is queued before the user is written (crash safety): a
        # sign-up refused as a duplicate takes its mail back out.
        assert (await post(client, person()))[0] == 201
        assert (await post(client, person()))[0] == 409
        assert await db_of(client).outbox.count_documents({"to": "ada@example.com"}) == 1
