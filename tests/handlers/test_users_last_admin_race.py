"""Issue 13 item 20: the last-admin rule holds when the last two admins remove each other (or
themselves) at the same instant, over HTTP, in many bounded trials."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.handlers._auth import PASSWORD, db_of
from tests.handlers._users import Person, call, person_of

TRIALS = 12
LAST_ADMIN = (400, "LAST_ADMIN")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def last_two_admins(client: TestClient) -> tuple[Person, Person]:  # type: ignore[type-arg]
    """Two fresh admins that are the only active ones (earlier trials' admins stepped down)."""
    await db_of(client).users.update_many({"role": "admin"}, {"$set": {"role": "user"}})
    return await person_of(client, "admin"), await person_of(client, "admin")


async def active_admins(client: TestClient) -> int:  # type: ignore[type-arg]
    return int(await db_of(client).users.count_documents({"role": "admin", "isActive": True}))


def outcome(answer: tuple[int, dict[str, Any]]) -> tuple[int, str | None]:
    status, body = answer
    return status, body.get("code") if status != 200 else None


# Each case: what admin `me` sends to remove itself or the other admin `them`.
CASES = {
    "each deactivates itself (DELETE /me)":
        lambda me, them: ("DELETE", "/me", {"currentPassword": PASSWORD}),
    "each deactivates itself (PATCH /{id})":
        lambda me, them: ("PATCH", f"/{me.id}", {"isActive": False}),
    "each demotes the other": lambda me, them: ("PATCH", f"/{them.id}", {"role": "user"}),
    "each deactivates the other":
        lambda me, them: ("PATCH", f"/{them.id}", {"isActive": False}),
    "each deletes the other": lambda me, them: ("DELETE", f"/{them.id}", None),
}


class TestLastAdminRace:
    @pytest.mark.parametrize("case", list(CASES))
    async def test_exactly_one_of_two_racing_removals_passes(
            self, client: TestClient, case: str) -> None:  # type: ignore[type-arg]
        request = CASES[case]
        for trial in range(TRIALS):
            a, b = await last_two_admins(client)
            answers = await asyncio.gather(*(
                call(client, method, path, me, json=body)
                for me, them in ((a, b), (b, a))
                for method, path, body in [request(me, them)]))
            seen = sorted(outcome(answer) for answer in answers)
            assert await active_admins(client) == 1, (trial, seen)
            # Exactly one removal passes. The other is refused by the last-admin rule, or, when
            # load serialised the two requests, by what the first did to its sender (demoted:
            # 403; deactivated or deleted: its token is dead, 401).
            assert seen[0] == (200, None), (trial, seen)
            assert seen[1] in (LAST_ADMIN, (403, "FORBIDDEN"), (401, "INVALID_TOKEN")), (
                trial, seen)

    async def test_three_admins_all_leaving_at_once_leave_one(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        for trial in range(TRIALS):
            first, second = await last_two_admins(client)
            third = await person_of(client, "admin")
            answers = await asyncio.gather(*(call(client, "DELETE", "/me", who,
                                                  json={"currentPassword": PASSWORD})
                                             for who in (first, second, third)))
            seen = sorted(outcome(answer) for answer in answers)
            assert await active_admins(client) == 1, (trial, seen)
            assert seen == [(200, None), (200, None), LAST_ADMIN], (trial, seen)

    async def test_a_stale_claim_from_a_dead_worker_does_not_block_for_long(
            self, client: TestClient) -> None:  # type: ignore[type-arg]
        """A worker that died mid-removal leaves a claim behind; once its lease is over it
        neither counts as a removal in progress nor blocks removing that admin."""
        a, b = await last_two_admins(client)
        await db_of(client).users.update_one(
            {"email": b.email},
            {"$set": {"adminRemoval": {"claim": "0" * 32, "until": LONG_AGO}}})
        assert outcome(await call(client, "PATCH", f"/{a.id}", a, json={"role": "user"})) \
            == (200, None)
        assert outcome(await call(client, "DELETE", "/me", b,
                                   json={"currentPassword": PASSWORD})) == LAST_ADMIN
        assert await active_admins(client) == 1
