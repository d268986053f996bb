"""`python -m bench.dbwork`: database commands and database CPU per login, register, refresh
and current-user request, at low concurrency, on Gatehouse's own embedded database daemon
(1 worker unless --workers says otherwise).

A quick, steadier companion to `bench.against` for database work (not throughput): one
service at 1 worker, bcrypt 12, a fixed number of requests per kind, the daemon's CPU
(`/proc`) and its `top` counts (commands, and the daemon's own time per command kind) read
before and after each kind. The outbox sender is let settle before each reading, so the mail
a register queues is counted with the register that queued it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from bench import probe
from bench.probe import API, PASSWORD
from bench.service import OUT, gatehouse, pid_cpu_seconds, write_config
from server.runtime.embedded_db import EmbeddedDb

DATABASE = "gatehouse_bench"
KINDS = ("queries", "getmore", "insert", "update", "remove", "commands")


async def _top(mongo: Any) -> dict[str, tuple[int, int]]:
    """Per command kind: (count, daemon microseconds) over the bench database."""
    reply = await mongo.admin.command("top")
    out = {k: (0, 0) for k in (*KINDS, "total")}
    for ns, entry in reply["totals"].items():
        if not ns.startswith(DATABASE + ".") or not isinstance(entry, dict):
            continue
        for kind in out:
            got = entry.get(kind) or {"count": 0, "time": 0}
            count, micros = out[kind]
            out[kind] = (count + got["count"], micros + got["time"])
    return out


async def _reading(mongo: Any, db: EmbeddedDb) -> tuple[float, dict[str, tuple[int, int]]]:
    assert db.process is not None  # noqa: S101 - started
    return pid_cpu_seconds(db.process.pid), await _top(mongo)


async def _measure(name: str, n: int, mongo: Any, db: EmbeddedDb,
                   batch: Callable[[], Awaitable[None]]) -> None:
    await asyncio.sleep(1.0)  # earlier mail settles
    cpu0, top0 = await _reading(mongo, db)
    started = time.monotonic()
    await batch()
    took = time.monotonic() - started
    await asyncio.sleep(1.0)  # this batch's mail settles inside the window
    cpu1, top1 = await _reading(mongo, db)
    parts = ", ".join(f"{k} {(top1[k][0] - top0[k][0]) / n:.2f}"
                      f" ({(top1[k][1] - top0[k][1]) / n / 1000:.2f} ms)"
                      for k in KINDS if top1[k][0] != top0[k][0])
    cmds = (top1["total"][0] - top0["total"][0]) / n
    print(f"{name:<9} n={n:<4} DB CPU {(cpu1 - cpu0) / n * 1000:6.2f} ms/req  "
          f"cmds {cmds:5.2f}/req  [{parts}]  {took:.1f}s", flush=True)


async def _run(args: argparse.Namespace) -> None:
    db = EmbeddedDb(":memory:")
    config = write_config(OUT / "dbwork.yaml", db.uri, DATABASE, limiter=False)
    service = gatehouse("dbwork", config, args.workers)
    db.start()
    try:
        service.start("/health/ready")
        await _scenarios(args, service.url, db)
    finally:
        service.stop()
        db.stop()


async def _scenarios(args: argparse.Namespace, url: str, db: EmbeddedDb) -> None:
    mongo: Any = AsyncMongoClient(db.uri)
    seeded = await probe.register(url, args.accounts, "dbwork")
    sem = asyncio.Semaphore(args.concurrency)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:

        async def post(path: str, body: dict[str, Any], want: int) -> dict[str, Any]:
            async with sem, http.post(url + API + path, data=json.dumps(body),
                                      headers={"Content-Type": "application/json"}) as r:
                payload: dict[str, Any] = await r.json(content_type=None)
                if r.status != want:
                    raise RuntimeError(f"{path} answered {r.status}: {payload}")
                cookie = r.cookies.get("refreshToken")
                if cookie is not None:  # the cookie, else the body's field
                    payload.setdefault("data", {})["refresh_token"] = cookie.value
                return payload

        async def logins() -> None:
            await asyncio.gather(*(post("/auth/login", {"email": seeded[i % len(seeded)].email,
                                                        "password": PASSWORD}, 200)
                                   for i in range(args.logins)))

        async def registers() -> None:
            await asyncio.gather(*(post("/auth/register", {
                "firstName": "B", "lastName": "U", "password": PASSWORD,
                "email": f"dbwork-{time.monotonic_ns()}-{i}@example.com"}, 201)
                for i in range(args.registers)))

        tokens = [s.refresh_token for s in seeded]

        async def rotate(i: int) -> None:
            for _ in range(args.refreshes // len(tokens)):
                payload = await post("/auth/refresh-token", {"refreshToken": tokens[i]}, 200)
                tokens[i] = payload["data"]["refresh_token"]

        async def refreshes() -> None:
            await asyncio.gather(*(rotate(i) for i in range(len(tokens))))

        async def me() -> None:
            headers = {"Authorization": f"Bearer {seeded[0].access_token}"}

            async def one() -> None:
                async with sem, http.get(url + API + "/users/me", headers=headers) as r:
                    await r.read()
            await asyncio.gather(*(one() for _ in range(args.me)))

        n_refresh = (args.refreshes // len(tokens)) * len(tokens)
        for _ in range(args.rounds):
            await _measure("me", args.me, mongo, db, me)
            await _measure("refresh", n_refresh, mongo, db, refreshes)
            await _measure("login", args.logins, mongo, db, logins)
            await _measure("register", args.registers, mongo, db, registers)
    await mongo.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dbwork", description=__doc__)
    parser.add_argument("--accounts", type=int, default=16)
    parser.add_argument("--logins", type=int, default=32)
    parser.add_argument("--registers", type=int, default=24)
    parser.add_argument("--refreshes", type=int, default=320)
    parser.add_argument("--me", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
