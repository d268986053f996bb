"""`python run.py create-admin` as a real process: create, refuse existing accounts, promote
explicitly, refuse bad input."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from server.core.config import Config
from tests._app import bearer
from tests._process import run_cli
from tests.conftest import TEST_CONFIG
from tests.handlers._auth import AUTH, PASSWORD, db_of
from tests.handlers._users import call, person_of

pytestmark = pytest.mark.process

ADMIN_PASSWORD = "Adm1n!pass-word"


def create_admin(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI against the test database of `config` (named through APP__ variables)."""
    env = {"APP__MONGODB__URI": config.mongodb.uri,
           "APP__MONGODB__DATABASE": config.mongodb.database}
    return run_cli("create-admin", "--config", str(TEST_CONFIG), *args, env=env, timeout=60)


async def sign_in(client: TestClient, email: str, password: str) -> tuple[int, dict[str, Any]]:  # type: ignore[type-arg]
    resp = await client.post(f"{AUTH}/login", json={"email": email, "password": password})
    return resp.status, await resp.json()


class TestCreate:
    async def test_creates_a_verified_admin_who_can_manage_users(
            self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        result = create_admin(config, "--email", " Root@Example.COM ", "--password",
                              ADMIN_PASSWORD, "--first-name", "Root", "--last-name", "Admin")
        assert (result.returncode, result.stdout.strip()) == (0, "created admin root@example.com")
        assert ADMIN_PASSWORD not in result.stdout + result.stderr
        status, body = await sign_in(client, "root@example.com", ADMIN_PASSWORD)
        assert status == 200
        assert body["data"]["user"]["role"] == "admin"
        assert body["data"]["user"]["isEmailVerified"] is True
        resp = await client.get("/api/v1/users", headers=bearer(body["data"]["accessToken"]))
        users = (await resp.json())["data"]["users"]
        assert [(u["email"], u["fullName"]) for u in users] == [("root@example.com",
                                                                   "Root Admin")]

    async def test_default_names(self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        result = create_admin(config, "--email", "ops@example.com", "--password", ADMIN_PASSWORD)
        assert result.returncode == 0, result.stderr
        doc = await db_of(client).users.find_one({"email": "ops@example.com"})
        assert (doc["firstName"], doc["lastName"], doc["role"]) == ("Admin", "User", "admin")
        assert ADMIN_PASSWORD not in str(doc)


class TestExistingAccount:
    """Issue 13 item 1: someone who registered the address first never becomes admin by
    the operator's command; only an explicit --promote of a verified, active account does."""

    async def test_an_address_someone_registered_first_is_refused(
            self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        squatter = await person_of(client, email="root@example.com")
        result = create_admin(config, "--email", "ROOT@example.com", "--password",
                              ADMIN_PASSWORD)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            "root@example.com already has an account: nothing was changed. To make that "
            "account an admin, run create-admin --email root@example.com --promote (it "
            "keeps its own password)"]
        assert ADMIN_PASSWORD not in result.stderr
        # The squatter is still a plain user, and the operator's password opens nothing.
        assert (await call(client, "GET", "", squatter))[0] == 403
        assert (await sign_in(client, "root@example.com", ADMIN_PASSWORD))[0] == 401

    async def test_an_existing_admin_is_refused_too(self, config: Config) -> None:
        assert create_admin(config, "--email", "root@example.com", "--password",
                            ADMIN_PASSWORD).returncode == 0
        again = create_admin(config, "--email", "root@example.com", "--password",
                             "0ther!Pass-word")
        assert again.returncode == 1
        assert again.stderr.splitlines() == [
            "root@example.com already has an account (an admin): nothing was changed"]

    async def test_promote_makes_a_verified_active_user_admin(
            self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        user = await person_of(client, email="ada@example.com")
        await db_of(client).users.update_one({"_id": ObjectId(user.id)},
                                             {"$set": {"isEmailVerified": True}})
        result = create_admin(config, "--email", "ADA@example.com", "--promote")
        assert (result.returncode, result.stdout.strip()) == (
            0, "promoted ada@example.com to admin (password unchanged)")
        # The existing token now carries admin rights: the role is read on every request.
        assert (await call(client, "GET", "", user))[0] == 200
        assert (await sign_in(client, "ada@example.com", PASSWORD))[0] == 200
        again = create_admin(config, "--email", "ada@example.com", "--promote")
        assert (again.returncode, again.stdout.strip()) == (
            0, "ada@example.com is already an admin")

    @pytest.mark.parametrize(("state", "line"), [
        ({"isEmailVerified": False},
         "ada@example.com has not verified its email address: only a verified, active "
         "account can be promoted"),
        ({"isEmailVerified": True, "isActive": False},
         "ada@example.com is deactivated: only a verified, active account can be promoted"),
        ({"isEmailVerified": False, "isActive": False, "role": "admin"},
         "ada@example.com is deactivated: only a verified, active account can be promoted"),
    ])
    async def test_promote_never_takes_an_unverified_or_deactivated_account(
            self, client: TestClient, config: Config, state: dict[str, Any],  # type: ignore[type-arg]
            line: str) -> None:
        user = await person_of(client, email="ada@example.com")
        await db_of(client).users.update_one({"_id": ObjectId(user.id)}, {"$set": state})
        result = create_admin(config, "--email", "ada@example.com", "--promote")
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.splitlines() == [line]
        doc = await db_of(client).users.find_one({"_id": ObjectId(user.id)})
        assert (doc["role"], doc["isActive"], doc["isEmailVerified"]) == (
            state.get("role", "user"), state.get("isActive", True), state["isEmailVerified"])

    async def test_promote_of_an_unknown_address_creates_nothing(
            self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        result = create_admin(config, "--email", "nobody@example.com", "--promote")
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.splitlines() == [
            "nobody@example.com has no account: to create an admin, run create-admin "
            "--email nobody@example.com --password ... (without --promote)"]
        assert await db_of(client).users.count_documents({}) == 0

    @pytest.mark.parametrize("extra", [
        ["--password", ADMIN_PASSWORD], ["--first-name", "Eve"], ["--last-name", "Eve"]])
    def test_promote_takes_no_password_or_names(self, config: Config,
                                                extra: list[str]) -> None:
        result = create_admin(config, "--email", "ada@example.com", "--promote", *extra)
        assert result.returncode == 2
        assert "--promote keeps the account's own password and names" in result.stderr


class TestBadInput:
    @pytest.mark.parametrize(("args", "line"), [
        (["--email", "not-an-email", "--password", ADMIN_PASSWORD],
         "email: Please provide a valid email"),
        (["--email", "a@example.com", "--password", "weak"],
         "password: Password must contain at least one uppercase letter, one lowercase "
         "letter, one number, and one special character"),
        (["--email", "a@example.com", "--password", "Sh0rt!"],
         "password: Password must be between 8 and 128 characters"),
        (["--email", "a@example.com", "--password", ADMIN_PASSWORD, "--first-name", " "],
         "firstName: First name must be between 1 and 50 characters"),
        (["--email", "a@example.com", "--password", ADMIN_PASSWORD, "--last-name", "x" * 51],
         "lastName: Last name must be between 1 and 50 characters"),
    ])
    async def test_fails_with_one_clear_line_and_writes_nothing(
            self, client: TestClient, config: Config, args: list[str], line: str) -> None:  # type: ignore[type-arg]
        result = create_admin(config, *args)
        assert result.returncode == 1
        assert result.stderr.splitlines() == [line]
        assert result.stdout == ""
        assert await db_of(client).users.count_documents({}) == 0

    def test_a_missing_password_is_a_usage_error(self, config: Config) -> None:
        result = create_admin(config, "--email", "a@example.com")
        assert result.returncode == 2
        assert "--password" in result.stderr
