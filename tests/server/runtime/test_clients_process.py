"""`python run.py clients create|list|delete` as real processes; the printed credentials then
authenticate an introspection call over HTTP, until the client is deleted."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from tests._process import run_cli, write_config
from tests.handlers._oauth import basic, introspect

pytestmark = pytest.mark.process


@pytest.fixture
def database(mongo_uri: str) -> Iterator[str]:
    name = f"gh_clients_{uuid.uuid4().hex[:12]}"
    yield name
    client: MongoClient[Any] = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)
    try:
        client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
def cli_config(tmp_path: Path, mongo_uri: str, database: str) -> Path:
    return write_config(tmp_path / "config.yaml", mongodb={"uri": mongo_uri, "database": database})


def clients(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("clients", *args, "--config", str(config))


def created(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    assert result.returncode == 0, result.stderr
    found = dict(re.findall(r"^(client_id|client_secret): (\S+)$", result.stdout, re.M))
    return found["client_id"], found["client_secret"]


class TestClientsCommand:
    async def test_create_list_delete_and_the_secret_works_until_deleted(
            self, cli_config: Path, make_client: Any, make_config: Any, mongo_uri: str,
            database: str) -> None:
        client_id, secret = created(clients(cli_config, "create", "--name", "billing"))
        other_id, _ = created(clients(cli_config, "create", "--name", "reports"))
        assert len(secret) >= 40
        listed = clients(cli_config, "list")
        assert listed.returncode == 0
        lines = listed.stdout.splitlines()
        assert any(client_id in line and "billing" in line for line in lines)
        assert any(other_id in line and "reports" in line for line in lines)
        assert secret not in listed.stdout + listed.stderr
        mongo: MongoClient[Any] = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)
        try:
            stored = list(mongo[database].clients.find({}))
        finally:
            mongo.close()
        assert len(stored) == 2
        assert secret not in str(stored)

        app = await make_client(make_config(environ={"APP__MONGODB__DATABASE": database}))
        status, body, _ = await introspect(app, "not-a-token", basic(client_id, secret))
        assert (status, body) == (200, {"active": False})

        deleted = clients(cli_config, "delete", client_id)
        assert deleted.returncode == 0, deleted.stderr
        assert client_id in deleted.stdout
        status, _, _ = await introspect(app, "not-a-token", basic(client_id, secret))
        assert status == 401
        again = clients(cli_config, "delete", client_id)
        assert again.returncode == 1
        assert client_id in again.stderr
        assert client_id not in clients(cli_config, "list").stdout

    def test_usage_errors(self, cli_config: Path) -> None:
        assert clients(cli_config, "create").returncode == 2  # --name is required
        assert clients(cli_config).returncode == 2  # no action
        bad = clients(cli_config, "create", "--name", "x" * 65)
        assert bad.returncode == 1
        assert "name" in bad.stderr
        assert clients(cli_config, "create", "--name", "bad\x01name").returncode == 1
