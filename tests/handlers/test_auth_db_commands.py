"""Database round trips per auth flow: the crash-safe write orders cost none extra.

Counted on /metrics (gatehouse_db_commands_total) with the mail sender stopped, so only
what a request itself sends is counted. Upper bounds: fewer is always welcome (issue 14).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from server.core.keys import CONFIG
from server.db import make_client as make_motor_client
from server.mail.sender import MAILER
from tests.conftest import METRICS_AUTH
from tests.handlers._auth import AUTH, NEW_PASSWORD, db_of, login, person, register

Client = TestClient  # type: ignore[type-arg]


async def commands(client: Client) -> dict[str, float]:
    text = await (await client.get("/metrics", headers=METRICS_AUTH)).text()
    return {s.labels["command"]: s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "gatehouse_db_commands_total"}


async def spent(client: Client, flow: Callable[[], Awaitable[Any]]) -> dict[str, int]:
    """The commands `flow` sent, by name."""
    before = await commands(client)
    await flow()
    after = await commands(client)
    return {name: int(count - before.get(name, 0)) for name, count in after.items()
            if count > before.get(name, 0)}


@pytest.fixture
async def quiet(make_client: Any, make_config: Any) -> Client:
    client: Client = await make_client(make_config(mail={"poll_interval": timedelta(hours=1)}))
    await client.app[MAILER].stop()
    return client


async def test_register_is_three_writes(quiet: Client) -> None:
    used = await spent(quiet, lambda: register(quiet))
    assert sum(used.values()) <= 3, used  # the mail, the user, the session


async def test_login_is_three_plain_commands_below_the_cap_and_four_at_it(
        quiet: Client) -> None:
    await register(quiet)
    for _ in range(4):
        used = await spent(quiet, lambda: login(quiet))
        # The user read, the session added by a write conditional on that read (no attempt
        # slot: nothing else touched the account), its document. No findAndModify and no
        # pipeline (the embedded database scans for the one and evaluates the other slowly).
        assert used == {"find": 1, "update": 1, "insert": 1}, used
    used = await spent(quiet, lambda: login(quiet))  # the sixth session pushes one out
    assert sum(used.values()) <= 4, used


async def test_a_wrong_password_is_three_commands(quiet: Client) -> None:
    await register(quiet)
    used = await spent(quiet, lambda: quiet.post(f"{AUTH}/login", json={
        "email": "ada@example.com", "password": "Wr0ng!Passw0rd"}))
    # The user read, then (the password checked) a slot taken by a write conditional on that
    # read, and the failure settled in it.
    assert sum(used.values()) <= 3, used


async def test_current_user_is_one_find(quiet: Client) -> None:
    access = (await register(quiet))["accessToken"]

    async def me() -> None:
        resp = await quiet.get("/api/v1/users/me", headers={"Authorization": f"Bearer {access}"})
        assert resp.status == 200

    assert await spent(quiet, me) == {"find": 1}


async def test_refresh_is_two_commands(quiet: Client) -> None:
    token = (await register(quiet))["refreshToken"]
    quiet.session.cookie_jar.clear()

    async def rotate() -> None:
        resp = await quiet.post(f"{AUTH}/refresh-token", json={"refreshToken": token})
        assert resp.status == 200

    used = await spent(quiet, rotate)
    assert used == {"find": 1, "update": 1}, used  # the user by _id, the rotation


async def test_forgot_is_two_writes_and_reset_three(quiet: Client) -> None:
    await quiet.post(f"{AUTH}/register", json=person())

    async def forgot() -> None:
        resp = await quiet.post(f"{AUTH}/forgot-password", json={"email": "ada@example.com"})
        assert resp.status == 200

    used = await spent(quiet, forgot)
    assert sum(used.values()) <= 2, used  # the mail, the token
    # The sender is stopped: the queued mail still holds the link.
    queued = await db_of(quiet).outbox.find_one({"subject": "Reset your password"})
    found = re.search(r"token=([A-Za-z0-9_\-]+)", queued["text"])
    assert found is not None

    async def reset() -> None:
        resp = await quiet.post(f"{AUTH}/reset-password/{found.group(1)}",
                                json={"password": NEW_PASSWORD})
        assert resp.status == 200

    used = await spent(quiet, reset)
    assert sum(used.values()) <= 3, used  # the user, the session documents, the notice


async def test_a_register_and_the_delivery_of_its_mail_are_six_commands(
        make_client: Any, make_config: Any) -> None:
    # The request's three writes, then the sender's find, claim and mark-sent. It used to
    # end each drain with one more find that found nothing due (7 commands).
    client: Client = await make_client(make_config(mail={"poll_interval": timedelta(hours=1)}))
    config = client.app[CONFIG]
    watcher = make_motor_client(config.mongodb.uri, 2.0, 2)  # not counted: not the app's
    outbox = watcher[config.mongodb.database].outbox

    async def delivered(email: str, sent: int) -> None:
        await register(client, email)
        deadline = asyncio.get_running_loop().time() + 10
        while await outbox.count_documents({"status": "sent"}) < sent:
            assert asyncio.get_running_loop().time() < deadline, "the mail was not sent"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # anything the sender would still do after it

    async def flow() -> None:
        await delivered("mailed@example.com", 2)

    # Counted from the second register on: the app's start (the sender's first drain, the
    # schema check) must not fall into the window (seen once in a loaded full run: 7).
    await delivered("first@example.com", 1)
    try:
        used = await spent(client, flow)
    finally:
        watcher.close()
    assert sum(used.values()) <= 6, used
