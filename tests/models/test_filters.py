"""models/filters.py: the compare-and-set filter forms match exactly what the bare forms match,
on the database the tests run (the embedded one), over values of every kind the writes use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId

from models.filters import one_of, same, unchanged

WHEN = datetime(2026, 1, 1, tzinfo=UTC)
OID = ObjectId()
STORED: list[Any] = [None, 0, 1, "a", ["a", "b"], ["a"], [], [["a", "b"]], WHEN,
                     [{"id": "x", "until": WHEN}], {"id": "x"}, OID, "missing"]
ASKED: list[Any] = [None, 0, 1, "a", ["a", "b"], ["a"], [], WHEN,
                    [{"id": "x", "until": WHEN}], {"id": "x"}, OID]


@pytest.fixture
async def stored(db: Any) -> Any:
    docs = [{"_id": n} if value == "missing" else {"_id": n, "f": value}
            for n, value in enumerate(STORED)]
    await db.filters.insert_many(docs)
    return db.filters


async def ids(collection: Any, query: dict[str, Any]) -> list[int]:
    return sorted([doc["_id"] async for doc in collection.find(query)])


@pytest.mark.parametrize("value", ASKED, ids=repr)
async def test_same_matches_what_the_bare_equality_matches(stored: Any, value: Any) -> None:
    assert await ids(stored, {"f": same(value)}) == await ids(stored, {"f": value})


@pytest.mark.parametrize("values", [[0, None], ["a"], [1, "a", WHEN], []], ids=repr)
async def test_one_of_matches_what_in_matches(stored: Any, values: list[Any]) -> None:
    assert await ids(stored, {"f": one_of(values)}) == await ids(stored, {"f": {"$in": values}})


async def test_a_write_lands_only_while_the_fields_are_unchanged(db: Any) -> None:
    await db.cas.insert_one({"_id": 1, "n": 0, "list": ["a"], "at": None})
    read = {"n": 0, "list": ["a"], "at": None}
    first = await db.cas.update_one({"_id": 1, **unchanged(read)}, {"$set": {"n": 1}})
    second = await db.cas.update_one({"_id": 1, **unchanged(read)}, {"$set": {"n": 2}})
    assert (first.modified_count, second.modified_count) == (1, 0)
    assert (await db.cas.find_one({"_id": 1}))["n"] == 1
