"""`python -m bench.against` (or `./dev bench --against fastapi-users`): Gatehouse beside
FastAPI + fastapi-users 15 (Beanie adapter, uvicorn on uvloop + httptools), each on its own
in-memory embedded database daemon, under the same wrk loads in alternation.

Prints one Markdown table (requests/s, p50, p99, server CPU, database CPU and database commands
per request, and the Gatehouse/fastapi-users ratios) and the issue's comparison targets with
PASS/FAIL; the same text is saved to bench/out/against-last-run.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from bench import machine, wrk
from bench.against import report, runs, sides, venv
from bench.against.report import Found
from bench.against.sides import Side
from bench.report import checks
from bench.service import OUT

ACCOUNTS = 64


@contextlib.contextmanager
def running(pair: list[Side]) -> Iterator[list[Side]]:
    """Both services up (each after its own database), stopped whatever happens."""
    try:
        for side in pair:
            sides.start(side)
        yield pair
    finally:
        for side in pair:
            sides.stop(side)


async def _prepare(pair: list[Side], connections: int) -> None:
    for side in pair:
        await side.open()
    await asyncio.gather(*(side.seed(ACCOUNTS) for side in pair))
    for side in pair:  # warm-up: imports, caches, connection pools
        await wrk.run(side.url + "/health", 1, connections)
        await wrk.run(side.url + side.me_path, 1, connections, "bearer.lua", (side.access_token,))
    await asyncio.sleep(1.5)  # the seeding's outbox writes (Gatehouse's mail) settle first


async def _phase(pair: list[Side], chosen: list[runs.Scenario], rounds: int,
                 connections: int) -> Found:
    with running(pair):
        try:
            await _prepare(pair, connections)
            readings = await runs.alternate(pair, chosen, rounds)
        finally:
            for side in pair:
                await side.close()
        workers = {side.service: side.workers for side in pair}
    return {(key, service, workers[service]): r for (key, service), r in readings.items()}


async def run(args: argparse.Namespace) -> str:
    python = venv.ensure()
    started = time.monotonic()
    described, bcrypt_s = machine.describe(), machine.bcrypt_check_seconds()
    everything = runs.scenarios(args.seconds, args.slow_seconds, args.connections)
    by_key = {s.key: s for s in everything}
    found: Found = {}
    one = [sides.gatehouse_side(1), sides.fastapi_users_side(python, 1)]
    found |= await _phase(one, [by_key[k] for k in ("health", "me", "login", "register",
                                                    "refresh")], args.rounds, args.connections)
    two = [sides.gatehouse_side(2), sides.fastapi_users_side(python, 2)]
    found |= await _phase(two, [by_key["login"]], args.rounds, args.connections)
    text = _render(found, described, bcrypt_s, args, time.monotonic() - started)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "against-last-run.md").write_text(text + "\n", encoding="utf-8")
    return text


def _render(found: Found, described: str, bcrypt_s: float, args: argparse.Namespace,
            took: float) -> str:
    return "\n".join([
        f"Gatehouse against FastAPI + fastapi-users, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"took {took:.0f}s",
        f"Machine: {described}",
        f"bcrypt check at 12 rounds: {bcrypt_s * 1000:.0f} ms on one core",
        f"Load: wrk -t1 --latency on the same machine, {args.rounds} rounds, the services in "
        f"turn (Gatehouse, fastapi-users, ...); {args.seconds:g}s per run with "
        f"{args.connections} connections for /health and current user, 8 connections and "
        f"{args.slow_seconds:g}s for login and register, 8 and {args.seconds:g}s for refresh.",
        "Gatehouse: run.py, production config, rate limits off, bcrypt 12. fastapi-users 15 "
        "(Beanie), bcrypt 12 via pwdlib, JWT HS256 15 min, uvicorn --loop uvloop --http "
        "httptools. Each service on its own SecantusDB daemon (in memory); login at 2 workers "
        "on a fresh pair. Gatehouse's bcrypt threads run 10 nicer than its event loop "
        "(server/security.py), fastapi-users hashes on its loop: on a machine shared with "
        "other work that favours fastapi-users' logins.",
        f"Processes under test at nice {os.getpriority(os.PRIO_PROCESS, 0)}.",
        "Per request (over the requests each service answered in the steady window of every "
        "run): server CPU = utime+stime of master and workers; DB CPU = utime+stime of the "
        "service's database daemon (all threads); DB cmds = `top` counts on its database. "
        "req/s = answered in the window / its length; p50/p99 = median of the rounds' wrk "
        "percentiles. G/F = Gatehouse / fastapi-users.",
        "Load average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "",
        report.table(found),
        "",
        checks(report.targets(found)),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.against", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="per run of /health, current user and refresh")
    parser.add_argument("--slow-seconds", type=float, default=15.0,
                        help="per run of login and register")
    parser.add_argument("--connections", type=int, default=32,
                        help="for /health and current user")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--nice", type=int, default=0,
                        help="run everything under test at this nice value (as python -m "
                             "bench --nice; negative values need root)")
    args = parser.parse_args()
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by every process started
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
