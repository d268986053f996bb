"""`python run.py create-admin` as a real process, then signing in as that admin over HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pymongo import MongoClient

from tests._app import bearer
from tests._process import Service, get, run_cli, write_config

pytestmark = pytest.mark.process

EMAIL = "root@example.com"
PASSWORD = "Adm1n!pass-word"


@pytest.fixture
def admin_config(tmp_path: Path, mongo_uri: str) -> Iterator[Path]:
    name = f"gh_admin_{uuid.uuid4().hex[:12]}"
    yield write_config(tmp_path / "config.yaml", mongodb={"uri": mongo_uri, "database": name})
    client: MongoClient[Any] = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)
    try:
        client.drop_database(name)
    finally:
        client.close()


def create_admin(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("create-admin", "--config", str(config), *args)


def post_json(url: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, json.loads(response.read())


class TestCreateAdmin:
    def test_created_admin_can_sign_in_and_use_admin_routes(
        self, admin_config: Path, tmp_path: Path
    ) -> None:
        result = create_admin(
            admin_config,
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
            "--first-name",
            "Root",
            "--last-name",
            "Admin",
        )
        assert (result.returncode, result.stdout.strip()) == (0, f"created admin {EMAIL}")
        assert PASSWORD not in result.stdout + result.stderr
        # Issue 13 item 1: the command never takes over an existing account, an admin's
        # included (its password would otherwise be silently ignored).
        again = create_admin(
            admin_config, "--email", EMAIL.upper(), "--password", "0ther!Pass-word"
        )
        assert (again.returncode, again.stdout) == (1, "")
        assert again.stderr.splitlines() == [
            f"{EMAIL} already has an account (an admin): nothing was changed"
        ]

        service = Service(tmp_path, admin_config, workers=1)
        try:
            service.start()
            status, body = post_json(
                service.url + "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD}
            )
            assert status == 200
            assert body["data"]["user"]["role"] == "admin"
            listing = urllib.request.Request(  # noqa: S310 - loopback
                service.url + "/api/v1/users",
                headers=bearer(body["data"]["accessToken"]),
            )
            with urllib.request.urlopen(listing, timeout=10) as response:  # noqa: S310
                users = json.loads(response.read())["data"]["users"]
            assert [u["email"] for u in users] == [EMAIL]
            assert get(service.url + "/health")[0] == 200
            service.signal(signal.SIGTERM)
            assert service.wait() == 0
        finally:
            service.close()

    def test_weak_password_fails_with_one_line_and_creates_nothing(
        self, admin_config: Path, mongo_uri: str
    ) -> None:
        result = create_admin(admin_config, "--email", EMAIL, "--password", "weak")
        assert result.returncode == 1
        assert result.stderr.splitlines() == [
            "password: Password must contain at least one uppercase letter, one lowercase "
            "letter, one number, and one special character"
        ]
        assert result.stdout == ""
        name = yaml.safe_load(admin_config.read_text())["mongodb"]["database"]
        client: MongoClient[Any] = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)
        try:
            assert client[name].users.count_documents({}) == 0
        finally:
            client.close()
