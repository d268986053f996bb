"""The queries behind GET /api/v1/users are served by indexes (the database's own explain)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from models.user_listing import LISTING_SORTS, listing_filter
from models.users import new_user_doc
from server.core.clock import utcnow
from tests.handlers._auth import db_of


async def plan(client: TestClient, query: dict[str, Any], sort: str) -> list[dict[str, Any]]:  # type: ignore[type-arg]
    """The winning plan's stages, outermost first, for the listing query as list_page runs it."""
    command: dict[str, Any] = {"find": "users", "filter": query,
                               "sort": dict(LISTING_SORTS[sort]), "limit": 20}
    explained = await db_of(client).command("explain", command)
    stage, stages = explained["queryPlanner"]["winningPlan"], []
    while stage:
        stages.append(stage)
        stage = stage.get("inputStage") or {}
    return stages


@pytest.fixture
async def seeded(client: TestClient) -> TestClient:  # type: ignore[type-arg]
    """A few users, so that the indexes exist and hold entries."""
    now = utcnow()
    await db_of(client).users.insert_many([
        new_user_doc(first_name="A", last_name=f"B{i}", email=f"u{i}@example.com",
                     password_hash="x", now=now, role="moderator" if i % 2 else "user")
        for i in range(6)])
    return client


class TestPlans:
    @pytest.mark.parametrize("sort", list(LISTING_SORTS))
    async def test_every_sort_walks_an_index_without_sorting(
            self, seeded: TestClient, sort: str) -> None:  # type: ignore[type-arg]
        stages = await plan(seeded, {}, sort)
        kinds = [s["stage"] for s in stages]
        assert "IXSCAN" in kinds, kinds
        assert "SORT" not in kinds, kinds
        scan = next(s for s in stages if s["stage"] == "IXSCAN")
        assert next(iter(scan["keyPattern"])) == LISTING_SORTS[sort][0][0]

    @pytest.mark.parametrize("query", [{"role": "moderator"}, {"is_active": False}])
    async def test_filters_use_an_index(self, seeded: TestClient,  # type: ignore[type-arg]
                                        query: dict[str, Any]) -> None:
        stages = await plan(seeded, listing_filter(**query), "-createdAt")
        scan = [s for s in stages if s["stage"] == "IXSCAN"]
        assert scan, [s["stage"] for s in stages]
        assert next(iter(scan[0]["keyPattern"])) in ("role", "isActive")

    async def test_search_is_plain_text_in_the_query(self) -> None:
        query = listing_filter(search="a.*( b")
        assert query["$and"][0]["$or"][0] == {"firstName": {"$regex": r"a\.\*\(",
                                                            "$options": "i"}}
        assert len(query["$and"]) == 2
        assert len(listing_filter(search="a b c d e f g")["$and"]) == 5
        assert listing_filter(search="   ") == {}
