"""Migration 1, canonical emails (issue 13 item 8), on a database written by the code before
it: applied exactly once when the service starts, before the indexes, safe to run again,
collisions reported by user id and never merged; afterwards a look-alike signs in to the
rewritten account over HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pymongo import MongoClient

from models import email_migration, users
from models import migrations as schema
from server.core.config import Config
from server.db import make_client as make_motor_client
from server.security import hash_password
from tests._legacy_emails import SEEDED, UNCHANGED, seed
from tests.handlers._auth import AUTH, PASSWORD
from tests.server.test_db_schema import wait_ready


@pytest.fixture
async def motor(config: Config) -> AsyncIterator[Any]:
    client = make_motor_client(config.mongodb.uri, 2.0, 5)
    yield client[config.mongodb.database]
    client.close()


async def seeded(config: Config) -> dict[str, str]:
    """The legacy users (tests/_legacy_emails.py), written with pymongo; their
    password is PASSWORD."""
    password_hash = await hash_password(PASSWORD, 4)
    client: MongoClient[Any] = MongoClient(config.mongodb.uri, serverSelectionTimeoutMS=2000)
    try:
        return seed(client[config.mongodb.database], password_hash)
    finally:
        client.close()


async def emails(db: Any) -> dict[str, str]:
    return {str(doc["_id"]): doc["email"] async for doc in db.users.find({}, {"email": 1})}


def records(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    return [r.fields for r in caplog.records  # type: ignore[attr-defined]
            if getattr(r, "fields", {}).get("event") == event]


class TestAtServiceStart:
    async def test_two_apps_migrate_once_and_a_look_alike_signs_in(
        self, make_client: Callable[..., Any], config: Config, motor: Any,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.INFO, logger="gatehouse.migrations")
        ids = await seeded(config)
        first, second = await asyncio.gather(make_client(config), make_client(config))
        await asyncio.gather(wait_ready(first), wait_ready(second))
        doc = await motor[schema.COLLECTION].find_one({"_id": "schema"})
        assert [(a["version"], a["name"]) for a in doc["applied"]] == [(1, "canonical emails")]
        assert len(records(caplog, "emails_canonical")) == 1
        assert sorted(r["userIds"] for r in records(caplog, "email_collision")) == sorted(
            [sorted([ids["bob"], ids["bob_wide"]]), sorted([ids["eve"], ids["eve_wide"]])])
        assert [r["userId"] for r in records(caplog, "email_refused")] == [ids["quoted"]]
        # Ids only: no line names an address.
        assert "example.com" not in caplog.text
        stored = await emails(motor)
        assert stored[ids["ada"]] == "ada@example.com"
        for name in UNCHANGED:
            assert stored[ids[name]] == SEEDED[name]
        # The collated index is gone before the new one was built in its place.
        indexes = await motor.users.index_information()
        assert "email_unique" not in indexes
        assert indexes["email_canonical"]["unique"] is True
        assert "collation" not in indexes["email_canonical"]

        resp = await first.post(f"{AUTH}/login", json={"email": "\uff21\uff24\uff21@example.com",
                                                       "password": PASSWORD})
        body = await resp.json()
        assert resp.status == 200, body
        assert body["data"]["user"]["id"] == ids["ada"]

        # A third start finds the migration recorded and does not run it again.
        third = await make_client(config)
        await wait_ready(third)
        assert len(records(caplog, "emails_canonical")) == 1
        doc = await motor[schema.COLLECTION].find_one({"_id": "schema"})
        assert len(doc["applied"]) == 1


class TestIdempotent:
    async def test_running_it_again_changes_nothing_and_reports_the_same(
        self, config: Config, motor: Any
    ) -> None:
        ids = await seeded(config)
        await email_migration.migrate(motor)
        after_first = await emails(motor)
        again = await email_migration.canonicalise(motor)
        await email_migration.migrate(motor)  # the index is gone already: no error
        assert await emails(motor) == after_first
        assert again.rewritten == 0
        assert again.collisions == tuple(sorted(
            [tuple(sorted([ids["bob"], ids["bob_wide"]])),
             tuple(sorted([ids["eve"], ids["eve_wide"]]))]))
        assert again.refused == (ids["quoted"],)

    async def test_a_settled_collision_is_rewritten_on_the_next_pass(
        self, config: Config, motor: Any
    ) -> None:
        ids = await seeded(config)
        await email_migration.migrate(motor)
        await users.delete_user(motor, ids["eve_wide"])
        report = await email_migration.canonicalise(motor)
        assert report.rewritten == 1
        assert (await emails(motor))[ids["eve"]] == "eve@example.com"
        assert all(ids["eve"] not in group for group in report.collisions)
