"""Talking to the service outside wrk: seed users over HTTP, read counters on its metrics port."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from server.core.http import API_PREFIX as API

PASSWORD = "Bench-Passw0rd!"  # noqa: S105 - the throwaway bench users


class RouteMissing(RuntimeError):
    """The service answered 404 `Route ... not found`: that part of the API is not built yet."""


@dataclass(frozen=True, slots=True)
class Seeded:
    email: str
    access_token: str
    refresh_token: str


@dataclass(frozen=True, slots=True)
class Counters:
    """Totals summed over every worker (run.py aggregates /metrics across them)."""

    db_commands: float
    requests: float  # every request except the /metrics scrapes themselves


async def counters(session: aiohttp.ClientSession, metrics_url: str) -> Counters:
    """The service's counters, read from its metrics listener (`Process.metrics_url`)."""
    async with session.get(metrics_url) as reply:
        reply.raise_for_status()
        text = await reply.text()
    db = requests = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gatehouse_db_commands_total":
                db += sample.value
            elif (sample.name == "gatehouse_http_requests_total"
                  and sample.labels.get("route") != "/metrics"):
                requests += sample.value
    return Counters(db, requests)


async def _register(session: aiohttp.ClientSession, url: str, tag: str) -> Seeded:
    email = f"bench-{tag}-{uuid.uuid4().hex[:10]}@example.com"
    body = {"firstName": "Bench", "lastName": "User", "email": email, "password": PASSWORD}
    async with session.post(f"{url}{API}/auth/register", json=body) as reply:
        payload = await reply.json(content_type=None)
        if reply.status == 404 and payload.get("code") == "NOT_FOUND":
            raise RouteMissing("/auth/register")
        if reply.status != 201:
            raise RuntimeError(f"register answered {reply.status}: {payload.get('error')}")
        cookie = reply.cookies.get("refreshToken")
    refresh = cookie.value if cookie else payload["data"].get("refreshToken", "")
    return Seeded(email, payload["data"]["accessToken"], refresh)


async def register(url: str, count: int, tag: str) -> list[Seeded]:
    """`count` new users, registered concurrently (each costs one bcrypt hash)."""
    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(_register(session, url, tag) for _ in range(count))))


async def route_exists(url: str, method: str, path: str) -> bool:
    """False when the router does not know `path` (404 `Route ... not found`)."""
    async with aiohttp.ClientSession() as session, session.request(
            method, url + path, json={}) as reply:
        payload = await reply.json(content_type=None)
    return not (reply.status == 404 and str(payload.get("error", "")).startswith("Route "))
