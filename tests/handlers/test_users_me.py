"""GET/PATCH/DELETE /api/v1/users/me and POST /me/password over HTTP, for every role."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from models.users import ROLES
from server.core.config import Config, SmtpConfig
from tests._app import bearer
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, NEW_PASSWORD, PASSWORD, db_of, refresh
from tests.handlers._users import PUBLIC_KEYS, call, person_of

# DELETE /me needs the password since issue 13 #3 (test_users_email_change.py tests without).
CURRENT = {"currentPassword": PASSWORD}


async def login_status(client: TestClient, email: str,  # type: ignore[type-arg]
                       password: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    return resp.status, await resp.json()


class TestGetMe:
    @pytest.mark.parametrize("role", ROLES)
    async def test_returns_the_public_user(self, client: TestClient, role: str) -> None:  # type: ignore[type-arg]
        me = await person_of(client, role, phoneNumber="+1 555 010 9999")
        status, body = await call(client, "GET", "/me", me)
        assert status == 200
        assert body["success"] is True
        user = body["data"]["user"]
        # Issue 16: GET /me also says which second factors are set.
        assert set(user) == PUBLIC_KEYS | {"mfa"}
        assert user["mfa"] == {"totp": False, "recoveryCodesLeft": 0, "passkeys": 0}
        assert user["id"] == me.id
        assert user["role"] == role
        assert user["fullName"] == "Ada Lovelace"
        assert user["phoneNumber"] == "+1 555 010 9999"
        assert user["preferences"] == {"theme": "light", "notifications": True,
                                       "language": "en"}
        assert user["createdAt"].endswith("Z")
        assert PASSWORD not in str(body)

    async def test_without_a_token_is_401(self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, body = await call(client, "GET", "/me")
        assert (status, body["error"]) == (401, "Access token is required")

    async def test_with_a_garbage_token_is_401(self, client: TestClient) -> None:  # type: ignore[type-arg]
        resp = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer x.y.z"})
        assert resp.status == 401
        assert (await resp.json())["error"] == "Invalid token"


class TestUpdateMe:
    @pytest.mark.parametrize("role", ROLES)
    async def test_updates_allowed_fields(self, client: TestClient, role: str) -> None:  # type: ignore[type-arg]
        me = await person_of(client, role)
        changes = {"firstName": "  Grace ", "lastName": "Hopper", "phoneNumber": "0123456789",
                   "dateOfBirth": "1906-12-09",
                   "profilePicture": "https://cdn.example.com/a/me.JPEG?v=2",
                   "preferences": {"theme": "dark"}}
        status, body = await call(client, "PATCH", "/me", me, json=changes)
        assert status == 200, body
        user = body["data"]["user"]
        assert (user["firstName"], user["fullName"]) == ("Grace", "Grace Hopper")
        assert user["dateOfBirth"].startswith("1906-12-09")
        assert user["profilePicture"] == changes["profilePicture"]
        # Preferences merge key by key: the others keep their values.
        assert user["preferences"] == {"theme": "dark", "notifications": True,
                                       "language": "en"}
        assert user["role"] == role
        status, again = await call(client, "GET", "/me", me)
        assert {k: v for k, v in again["data"]["user"].items() if k != "mfa"} == user

    async def test_clears_optional_fields_with_null(self, client: TestClient) -> None:  # type: ignore[type-arg]
        me = await person_of(client, phoneNumber="+1 555 010 9999")
        status, body = await call(client, "PATCH", "/me", me, json={"phoneNumber": None})
        assert status == 200
        assert body["data"]["user"]["phoneNumber"] is None

    async def test_new_email_is_pending_until_its_mailed_link_is_followed(
            self, make_client: Any, make_config: Any, smtp_server: SmtpSink,
            smtp_config: SmtpConfig) -> None:
        # Issue 13 #3 changed this contract: the email no longer switches at once and needs
        # the current password (tests/handlers/test_users_email_change.py has the attacks).
        config: Config = make_config(mail={"backend": "smtp", "smtp": smtp_config})
        client = await make_client(config)
        me = await person_of(client)
        await db_of(client).users.update_one({"_id": ObjectId(me.id)},
                                             {"$set": {"isEmailVerified": True}})
        status, body = await call(client, "PATCH", "/me", me,
                                  json={"email": " New.Address@Example.COM ",
                                        "currentPassword": PASSWORD})
        assert status == 200, body
        assert body["data"]["user"]["email"] == me.email
        assert body["data"]["user"]["pendingEmail"] == "new.address@example.com"
        assert body["data"]["user"]["isEmailVerified"] is True
        mail = await smtp_server.wait_for("new.address@example.com")
        link = SmtpSink.link(mail, f"{config.frontend_url}/verify-email?token=")
        resp = await client.get(f"{AUTH}/verify-email/{link.rpartition('=')[2]}")
        assert resp.status == 200
        status, body = await call(client, "GET", "/me", me)
        assert body["data"]["user"]["email"] == "new.address@example.com"
        assert body["data"]["user"]["pendingEmail"] is None
        assert body["data"]["user"]["isEmailVerified"] is True
        assert (await login_status(client, "new.address@example.com", PASSWORD))[0] == 200

    async def test_same_email_changes_nothing(self, client: TestClient) -> None:  # type: ignore[type-arg]
        me = await person_of(client)
        await db_of(client).users.update_one({"_id": ObjectId(me.id)},
                                             {"$set": {"isEmailVerified": True}})
        status, body = await call(client, "PATCH", "/me", me, json={"email": me.email.upper()})
        assert status == 200
        assert body["data"]["user"]["isEmailVerified"] is True

    async def test_taken_email_is_not_revealed(self, client: TestClient) -> None:  # type: ignore[type-arg]
        # Was a 409 before issue 13 #3: the route no longer tells who is registered.
        me = await person_of(client)
        other = await person_of(client)
        status, body = await call(client, "PATCH", "/me", me,
                                  json={"email": other.email.upper(),
                                        "currentPassword": PASSWORD})
        assert status == 200, body
        assert body["data"]["user"]["pendingEmail"] == other.email
        status, body = await call(client, "GET", "/me", me)
        assert body["data"]["user"]["email"] == me.email

    async def test_an_admin_change_to_a_taken_email_queues_no_mail(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        admin = await person_of(client, "admin")
        me = await person_of(client)
        other = await person_of(client)
        mails = db_of(client).outbox
        before = await mails.count_documents({})
        status, _ = await call(client, "PATCH", f"/{me.id}", admin,
                               json={"email": other.email})
        assert status == 409
        assert await mails.count_documents({}) == before  # the held link was discarded

    @pytest.mark.parametrize("field", [{"role": "admin"}, {"isActive": False},
                                       {"password": NEW_PASSWORD}, {"isEmailVerified": True}])
    async def test_protected_fields_are_400(self, client: TestClient,  # type: ignore[type-arg]
                                            field: dict[str, Any]) -> None:
        me = await person_of(client)
        status, body = await call(client, "PATCH", "/me", me, json=field)
        assert status == 400
        assert body["code"] == "VALIDATION_ERROR"
        assert body["errors"][0]["field"] == next(iter(field))
        status, body = await call(client, "GET", "/me", me)
        assert body["data"]["user"]["role"] == "user"
        assert body["data"]["user"]["isActive"] is True

    @pytest.mark.parametrize(("changes", "field"), [
        ({"profilePicture": "https://example.com/me.svg"}, "profilePicture"),
        ({"profilePicture": "ftp://example.com/me.png"}, "profilePicture"),
        ({"profilePicture": "javascript:alert(1)//.png"}, "profilePicture"),
        ({"preferences": {"theme": "blue"}}, "preferences.theme"),
        ({"preferences": {"notifications": "yes"}}, "preferences.notifications"),
        ({"preferences": {"fontSize": 3}}, "preferences.fontSize"),
        ({"preferences": "dark"}, "preferences"),
        ({"firstName": ""}, "firstName"),
        ({"phoneNumber": "12"}, "phoneNumber"),
        ({"dateOfBirth": "2999-01-01"}, "dateOfBirth"),
        ({"email": "not-an-email"}, "email"),
    ])
    async def test_invalid_values_are_400(self, client: TestClient,  # type: ignore[type-arg]
                                          changes: dict[str, Any], field: str) -> None:
        me = await person_of(client)
        status, body = await call(client, "PATCH", "/me", me, json=changes)
        assert status == 400, body
        assert field in [e["field"] for e in body["errors"]]

    async def test_without_a_token_is_401(self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, _ = await call(client, "PATCH", "/me", json={"firstName": "X"})
        assert status == 401


class TestChangePassword:
    @pytest.mark.parametrize("role", ROLES)
    async def test_changes_it_and_ends_other_sessions(self, client: TestClient,  # type: ignore[type-arg]
                                                      role: str) -> None:
        me = await person_of(client, role)
        status, other = await login_status(client, me.email, PASSWORD)
        assert status == 200
        status, body = await call(client, "POST", "/me/password", me,
                                  json={"currentPassword": PASSWORD,
                                        "newPassword": NEW_PASSWORD})
        assert (status, body["success"]) == (200, True), body
        # This session stays signed in; the other one is over, access and refresh alike.
        assert (await call(client, "GET", "/me", me))[0] == 200
        resp = await client.get("/api/v1/users/me", headers=bearer(other["data"]["accessToken"]))
        assert resp.status == 401
        assert (await refresh(client, me.refresh_token)).status == 200
        assert (await login_status(client, me.email, PASSWORD))[0] == 401
        assert (await login_status(client, me.email, NEW_PASSWORD))[0] == 200

    async def test_wrong_current_password_is_400(self, client: TestClient) -> None:  # type: ignore[type-arg]
        me = await person_of(client)
        status, body = await call(client, "POST", "/me/password", me,
                                  json={"currentPassword": "Wr0ng!pass",
                                        "newPassword": NEW_PASSWORD})
        assert (status, body["error"]) == (400, "Current password is incorrect")
        assert (await login_status(client, me.email, PASSWORD))[0] == 200

    async def test_weak_new_password_is_400(self, client: TestClient) -> None:  # type: ignore[type-arg]
        me = await person_of(client)
        status, body = await call(client, "POST", "/me/password", me,
                                  json={"currentPassword": PASSWORD, "newPassword": "weak"})
        assert status == 400
        assert body["error"].startswith("Password must contain at least one uppercase")

    async def test_missing_fields_are_400(self, client: TestClient) -> None:  # type: ignore[type-arg]
        me = await person_of(client)
        status, body = await call(client, "POST", "/me/password", me, json={})
        assert status == 400
        assert {e["field"] for e in body["errors"]} == {"currentPassword", "newPassword"}

    async def test_without_a_token_is_401(self, client: TestClient) -> None:  # type: ignore[type-arg]
        status, _ = await call(client, "POST", "/me/password",
                               json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
        assert status == 401


class TestDeactivateMe:
    @pytest.mark.parametrize("role", ["user", "moderator"])
    async def test_deactivates_and_ends_sessions(self, client: TestClient,  # type: ignore[type-arg]
                                                 role: str) -> None:
        me = await person_of(client, role)
        status, body = await call(client, "DELETE", "/me", me, json=CURRENT)
        assert (status, body["success"]) == (200, True)
        assert (await call(client, "GET", "/me", me))[0] == 401
        assert (await refresh(client, me.refresh_token)).status in (401, 403)
        status, body = await login_status(client, me.email, PASSWORD)
        assert (status, body["error"]) == (403, "Account is deactivated")
        assert await db_of(client).sessions.count_documents({"user": ObjectId(me.id)}) == 0

    async def test_an_admin_may_leave_when_another_admin_remains(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        await person_of(client, "admin")
        me = await person_of(client, "admin")
        assert (await call(client, "DELETE", "/me", me, json=CURRENT))[0] == 200

    async def test_the_last_admin_cannot_leave(self, client: TestClient) -> None:  # type: ignore[type-arg]
        me = await person_of(client, "admin")
        status, body = await call(client, "DELETE", "/me", me, json=CURRENT)
        assert (status, body["code"]) == (400, "LAST_ADMIN")
        assert "last active admin" in body["error"]
        assert (await call(client, "GET", "/me", me))[0] == 200

    async def test_without_a_token_is_401(self, client: TestClient) -> None:  # type: ignore[type-arg]
        assert (await call(client, "DELETE", "/me", json=CURRENT))[0] == 401
