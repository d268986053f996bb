"""`python run.py migrate` as a real process on a database seeded (with pymongo) as the code
before canonical emails left it: applies the migration, lists collisions by user id and exits
1 until an operator settles them; safe to run again."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo import MongoClient

from tests._legacy_emails import SEEDED, UNCHANGED, seed
from tests._process import run_cli, write_config

pytestmark = pytest.mark.process

@pytest.fixture
def database(tmp_path: Path, mongo_uri: str) -> Iterator[tuple[Path, Any]]:
    """A config file for a fresh database and a pymongo handle on that database."""
    name = f"gh_migrate_{uuid.uuid4().hex[:12]}"
    config = write_config(tmp_path / "config.yaml", mongodb={"uri": mongo_uri, "database": name})
    client: MongoClient[Any] = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)
    try:
        yield config, client[name]
        client.drop_database(name)
    finally:
        client.close()


def migrate(config: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("migrate", "--config", str(config), timeout=60)


def stored(db: Any) -> dict[str, str]:
    return {str(doc["_id"]): doc["email"] for doc in db.users.find({}, {"email": 1})}


def logged(stderr: str, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def pair(ids: dict[str, str], a: str, b: str) -> str:
    return " ".join(sorted([ids[a], ids[b]]))


class TestMigrateCommand:
    def test_reports_collisions_by_id_and_exits_1_until_settled(
        self, database: tuple[Path, Any]
    ) -> None:
        config, db = database
        ids = seed(db)

        first = migrate(config)
        assert first.returncode == 1, first.stderr
        lines = first.stdout.splitlines()
        assert lines[0] == ("schema version 1: migrations applied: canonical emails; "
                            "indexes built")
        assert lines[1] == "emails: 0 rewritten to their canonical form, 2 collisions, 1 refused"
        assert f"email collision: users {pair(ids, 'bob', 'bob_wide')} share" in first.stdout
        assert f"email collision: users {pair(ids, 'eve', 'eve_wide')} share" in first.stdout
        assert f"email refused: user {ids['quoted']} has" in first.stdout
        # The migration itself (under the lease) did the rewriting and logged it on stderr.
        assert [e["rewritten"] for e in logged(first.stderr, "emails_canonical")] == [1]
        assert len(logged(first.stderr, "email_collision")) == 2
        assert "example.com" not in first.stdout + first.stderr  # ids, never addresses
        emails = stored(db)
        assert emails[ids["ada"]] == "ada@example.com"
        for name in UNCHANGED:
            assert emails[ids[name]] == SEEDED[name]
        indexes = db.users.index_information()
        assert "email_unique" not in indexes
        assert indexes["email_canonical"]["unique"] is True

        # Safe to run twice: nothing changes, the same report, the migration not re-applied.
        second = migrate(config)
        assert second.returncode == 1
        assert second.stdout.splitlines()[0] == ("schema version 1: migrations applied: none "
                                                 "pending; indexes up to date")
        assert second.stdout.splitlines()[2:] == lines[2:]
        assert logged(second.stderr, "emails_canonical") == []
        assert stored(db) == emails
        assert len(db.schema.find_one({"_id": "schema"})["applied"]) == 1

        # The operator settles: one eve goes, the quoted address is replaced, bob's
        # fullwidth twin is deleted. The next run rewrites the rest and exits 0.
        db.users.delete_one({"_id": ObjectId(ids["eve_wide"])})
        db.users.delete_one({"_id": ObjectId(ids["bob_wide"])})
        db.users.update_one({"_id": ObjectId(ids["quoted"])},
                            {"$set": {"email": "q@example.com"}})
        third = migrate(config)
        assert (third.returncode, third.stdout.splitlines()[1:]) == (
            0, ["emails: 1 rewritten to their canonical form, 0 collisions, 0 refused"])
        assert stored(db)[ids["eve"]] == "eve@example.com"

    def test_an_unreachable_database_is_one_line_and_exit_1(self, tmp_path: Path) -> None:
        config = write_config(tmp_path / "config.yaml",
                              mongodb={"uri": "mongodb://user:s3cret@127.0.0.1:9/",
                                       "timeout": "500ms"})
        result = migrate(config)
        assert result.returncode == 1
        assert result.stderr.splitlines()[-1].startswith("database error: ")
        assert "s3cret" not in result.stdout + result.stderr
