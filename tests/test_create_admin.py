"""`python run.py create-admin` as a real process: create, promote, refuse bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from server.core.config import Config
from tests.conftest import TEST_CONFIG
from tests.handlers._auth import AUTH, PASSWORD, db_of
from tests.handlers._users import call, person_of

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[1]
ADMIN_PASSWORD = "Adm1n!pass-word"


def create_admin(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI against the test database of `config` (named through APP__ variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP__")}
    env.update(APP__MONGODB__URI=config.mongodb.uri,
               APP__MONGODB__DATABASE=config.mongodb.database)
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "run.py", "create-admin", "--config", str(TEST_CONFIG), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


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
        resp = await client.get("/api/v1/users", headers={
            "Authorization": f"Bearer {body['data']['accessToken']}"})
        users = (await resp.json())["data"]["users"]
        assert [(u["email"], u["fullName"]) for u in users] == [("root@example.com",
                                                                   "Root Admin")]

    async def test_default_names(self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        result = create_admin(config, "--email", "ops@example.com", "--password", ADMIN_PASSWORD)
        assert result.returncode == 0, result.stderr
        doc = await db_of(client).users.find_one({"email": "ops@example.com"})
        assert (doc["firstName"], doc["lastName"], doc["role"]) == ("Admin", "User", "admin")
        assert ADMIN_PASSWORD not in str(doc)


class TestPromote:
    async def test_promotes_an_existing_user_keeping_their_password(
            self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        user = await person_of(client, email="ada@example.com")
        assert (await call(client, "GET", "", user))[0] == 403
        result = create_admin(config, "--email", "ADA@example.com", "--password", ADMIN_PASSWORD)
        assert (result.returncode, result.stdout.strip()) == (
            0, "promoted ada@example.com to admin (password unchanged)")
        # The existing token now carries admin rights: the role is read on every request.
        assert (await call(client, "GET", "", user))[0] == 200
        assert (await sign_in(client, "ada@example.com", PASSWORD))[0] == 200
        assert (await sign_in(client, "ada@example.com", ADMIN_PASSWORD))[0] == 401

    async def test_reactivates_a_deactivated_user(self, client: TestClient,  # type: ignore[type-arg]
                                                  config: Config) -> None:
        user = await person_of(client, email="gone@example.com")
        await db_of(client).users.update_one({"_id": ObjectId(user.id)},
                                             {"$set": {"isActive": False}})
        assert (await sign_in(client, "gone@example.com", PASSWORD))[0] == 403
        assert create_admin(config, "--email", "gone@example.com", "--password",
                            ADMIN_PASSWORD).returncode == 0
        status, body = await sign_in(client, "gone@example.com", PASSWORD)
        assert (status, body["data"]["user"]["role"]) == (200, "admin")

    async def test_an_admin_stays_an_admin(self, config: Config) -> None:
        first = create_admin(config, "--email", "root@example.com", "--password", ADMIN_PASSWORD)
        again = create_admin(config, "--email", "root@example.com", "--password", ADMIN_PASSWORD)
        assert (first.returncode, again.returncode) == (0, 0)
        assert again.stdout.strip() == "root@example.com is already an admin"


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
