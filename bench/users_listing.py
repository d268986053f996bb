"""`python -m bench.users_listing`: GET /api/v1/users over HTTP against many seeded users.

Starts the embedded database (or uses --mongo-uri), creates the indexes, seeds --users users
with insert_many in batches (timed), serves the real app on a loopback port, signs in an admin
and times each listing scenario; also asks the database (explain) whether an index served the
filter and the sort. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from motor.motor_asyncio import AsyncIOMotorClient

from models import user_listing, users
from server.core.clock import utcnow
from server.core.config import load_config
from server.core.http import API_PREFIX
from server.runtime.embedded_db import EmbeddedDb, free_port
from server.security import hash_password
from server.web.app import create_app

# Fast bcrypt, no rate limit, console mail: the listing is what is measured.
TEST_CONFIG = Path(__file__).resolve().parents[1] / "tests" / "config.test.yaml"
DATABASE = "gatehouse_bench_users"
PASSWORD = "Bench!passw0rd"  # noqa: S105 - a throwaway account in a throwaway database
LAST_NAMES = ["Smith", "Jones", "Garcia", "Okafor", "Tanaka", "Novak", "Silva", "Khan"]
FIRST_NAMES = ["Ada", "Grace", "Alan", "Barbara", "Edsger", "Frances", "Ken", "Radia"]
# (label, query string): each is timed over HTTP and explained against the database.
SCENARIOS: list[tuple[str, dict[str, str]]] = [
    ("page 1, default sort (-createdAt)", {}),
    ("page 2, sort createdAt", {"page": "2", "sort": "createdAt"}),
    ("page 1, sort email", {"sort": "email"}),
    ("page 1, sort -lastName", {"sort": "-lastName"}),
    ("page 1, sort firstName", {"sort": "firstName"}),
    ("page 50 (skip 980), default sort", {"page": "50"}),
    ("role=moderator, default sort", {"role": "moderator"}),
    ("isActive=false, default sort", {"isActive": "false"}),
    ("search one user's email", {"search": "user004242@"}),
    ("search `a.*(` (escaped, no match)", {"search": "a.*("}),
    ("limit=100, default sort", {"limit": "100"}),
]


def _doc(i: int, start: Any) -> dict[str, Any]:
    return users.new_user_doc(
        first_name=FIRST_NAMES[i % len(FIRST_NAMES)], last_name=f"{LAST_NAMES[i % 8]}{i}",
        email=f"user{i:06d}@bench.example", password_hash="x",  # noqa: S106 - never signed in
        now=start + timedelta(milliseconds=i),
        role="moderator" if i % 20 == 0 else "user", isActive=i % 10 != 0)


async def seed(db: Any, first: int, count: int, batch: int) -> float:
    """Insert users number `first` to `count` - 1 in batches; returns the seconds it took."""
    start, began = utcnow() - timedelta(days=30), time.perf_counter()
    for low in range(first, count, batch):
        await db.users.insert_many([_doc(i, start) for i in range(low, min(low + batch, count))],
                                   ordered=False)
    return time.perf_counter() - began


async def _admin_token(db: Any, url: str) -> str:
    doc = users.new_user_doc(first_name="Bench", last_name="Admin", email="admin@bench.example",
                             password_hash=await hash_password(PASSWORD, 4), now=utcnow(),
                             role="admin")
    await db.users.insert_one(doc)
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}{API_PREFIX}/auth/login",
            json={"email": "admin@bench.example", "password": PASSWORD}) as resp:
        body = await resp.json()
    return str(body["data"]["accessToken"])


async def _plan(db: Any, query: dict[str, str]) -> str:
    """What the database says it does for this listing: the index and whether it sorts."""
    sort = query.get("sort", "-createdAt")
    role, active = query.get("role"), query.get("isActive")
    filt = user_listing.listing_filter(
        role=role, is_active=None if active is None else active == "true",
        search=query.get("search"))
    cmd: dict[str, Any] = {"find": "users", "filter": filt,
                           "sort": dict(user_listing.LISTING_SORTS[sort]), "limit": 20}
    explained = await db.command("explain", cmd)
    stage = explained.get("queryPlanner", {}).get("winningPlan", {})
    names, sorting = [], False
    while stage:
        sorting = sorting or stage.get("stage") == "SORT"
        if stage.get("stage") == "IXSCAN":
            names.append(stage.get("indexName", "?"))
        stage = stage.get("inputStage") or {}
    return (f"IXSCAN {names[0]}" if names else "COLLSCAN") + (" + SORT" if sorting else "")


async def _time(session: aiohttp.ClientSession, url: str, query: dict[str, str],
                token: str, runs: int) -> tuple[list[float], dict[str, Any]]:
    samples, body = [], {}
    for _ in range(runs):
        began = time.perf_counter()
        async with session.get(f"{url}{API_PREFIX}/users", params=query,
                               headers={"Authorization": f"Bearer {token}"}) as resp:
            body = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"GET {API_PREFIX}/users?{query} answered {resp.status}: {body}")
        samples.append((time.perf_counter() - began) * 1000)
    return samples, body["data"]


async def _rows(session: aiohttp.ClientSession, db: Any, url: str, token: str,
                size: int, runs: int) -> list[str]:
    rows = []
    for label, query in SCENARIOS:
        samples, data = await _time(session, url, query, token, runs)
        p95 = (statistics.quantiles(samples, n=20, method="inclusive")[-1]
               if len(samples) > 1 else samples[0])
        rows.append(f"| {size:,} | {label} | {data['pagination']['total']:,} | "
                    f"{statistics.median(samples):.0f} | {p95:.0f} | {max(samples):.0f} | "
                    f"{await _plan(db, query)} |")
    return rows


async def run(uri: str, sizes: list[int], batch: int, runs: int) -> str:
    # A long database timeout: the point is to measure the latency, not to get 503s.
    config = load_config(TEST_CONFIG, {"APP__MONGODB__URI": uri, "APP__MONGODB__TIMEOUT": "120s",
                                       "APP__MONGODB__DATABASE": DATABASE})
    client: Any = AsyncIOMotorClient(uri)
    db = client[DATABASE]
    await client.drop_database(DATABASE)
    await users.ensure_indexes(db)
    runner = web.AppRunner(create_app(config))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    seeding, rows, seeded = [], [], 0
    try:
        token = await _admin_token(db, url)
        async with aiohttp.ClientSession() as session:
            for size in sizes:
                seconds = await seed(db, seeded, size, batch)
                seeding.append(f"| {seeded:,} -> {size:,} | {seconds:.1f} | "
                               f"{(size - seeded) / seconds:,.0f} |")
                seeded = size
                rows += await _rows(session, db, url, token, size, runs)
    finally:
        await runner.cleanup()
        await client.drop_database(DATABASE)
        client.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join([
        f"{os.cpu_count()} CPUs, load average at the end {load}.", "",
        f"insert_many in batches of {batch:,} into an indexed collection "
        f"({len(users.INDEXES)} secondary indexes):", "",
        "| users | seconds | users/s |", "| --- | --: | --: |", *seeding, "",
        f"GET {API_PREFIX}/users over HTTP as an admin, {runs} requests per row "
        "(limit 20 unless said):", "",
        "| users | scenario | total | p50 ms | p95 ms | max ms | plan (explain) |",
        "| --: | --- | --: | --: | --: | --: | --- |", *rows])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.users_listing")
    parser.add_argument("--users", default="1000,10000,100000",
                        help="comma-separated sizes, seeded one after the other")
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5, help="requests per scenario and size")
    parser.add_argument("--mongo-uri", help="a running MongoDB (default: embedded database)")
    args = parser.parse_args()
    embedded = None if args.mongo_uri else EmbeddedDb(":memory:")
    uri = args.mongo_uri or embedded.start()  # type: ignore[union-attr]
    try:
        sizes = sorted(int(size) for size in args.users.split(","))
        print(asyncio.run(run(uri, sizes, args.batch, args.runs)))
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    main()
