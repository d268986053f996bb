"""Shared fixtures: a real wire-protocol database, per-test config and a client on the real app."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pymongo import MongoClient

from server.app import create_app
from server.config import Config, load_config, with_overrides
from server.embedded_db import EmbeddedDb

TEST_CONFIG = Path(__file__).with_name("config.test.yaml")


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """TEST_MONGODB_URI (a real mongod) when given, else a throwaway embedded database."""
    given = os.environ.get("TEST_MONGODB_URI")
    if given:
        yield given
        return
    db = EmbeddedDb(":memory:")
    uri = db.start()
    yield uri
    db.stop()


@pytest.fixture
def make_config(mongo_uri: str) -> Iterator[Callable[..., Config]]:
    """Build a test config on a fresh database; `sections` override fields per section.
    Every database it names is dropped after the test."""
    names: list[str] = []

    def build(environ: dict[str, str] | None = None, **sections: dict[str, Any]) -> Config:
        name = f"gh_test_{uuid.uuid4().hex[:12]}"
        names.append(name)
        env = {"APP__MONGODB__URI": mongo_uri, "APP__MONGODB__DATABASE": name, **(environ or {})}
        return with_overrides(load_config(TEST_CONFIG, env), **sections)

    yield build
    client: MongoClient = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)  # type: ignore[type-arg]
    try:
        for name in names:
            client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest.fixture
async def make_client(aiohttp_client: Any) -> Callable[..., Any]:
    """Start the real app for a config and return an HTTP client on it."""

    async def start(config: Config) -> TestClient:  # type: ignore[type-arg]
        return await aiohttp_client(create_app(config))  # type: ignore[no-any-return]

    return start


@pytest.fixture
async def client(make_client: Callable[..., Any], config: Config) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    yield await make_client(config)
