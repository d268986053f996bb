"""Fixtures for middleware tests: the real app with test-only routes, on a real database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.core.config import Config
from tests.middlewares._routes import start_test_client


@pytest.fixture
async def make_api_client(aiohttp_client: Any) -> Callable[..., Any]:
    async def start(config: Config) -> TestClient:  # type: ignore[type-arg]
        return await start_test_client(aiohttp_client, config)

    return start


@pytest.fixture
async def api(make_api_client: Callable[..., Any], config: Config) -> TestClient:  # type: ignore[type-arg]
    """A client on the real app plus the routes of tests/middlewares/_routes.py."""
    return await make_api_client(config)  # type: ignore[no-any-return]
