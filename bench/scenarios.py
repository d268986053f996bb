"""The measured scenarios: each runs wrk against one service and returns a table row."""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass

import aiohttp

from bench import probe, wrk
from bench.probe import API, PASSWORD, RouteMissing
from bench.report import Row
from bench.service import Process

MISSING = "n/a (route missing)"


@dataclass
class Settings:
    seconds: float = 5.0
    login_seconds: float = 8.0
    connections: int = 32
    rounds: int = 3
    round_seconds: float = 3.0


async def measure(target: Process, scenario: str, path: str, seconds: float, connections: int,
                  script: str | None = None, args: tuple[str, ...] = (),
                  note: str = "") -> tuple[Row, wrk.WrkResult]:
    """wrk against `target`, with database commands per request from the service's /metrics."""
    async with aiohttp.ClientSession() as session:
        before = await probe.counters(session, target.url)
        result = await wrk.run(target.url + path, seconds, connections, script, args)
        after = await probe.counters(session, target.url)
    served = after.requests - before.requests
    per_request = (after.db_commands - before.db_commands) / served if served else None
    row = Row(scenario, str(len(target.workers())), result.rps, result.p50_ms, result.p99_ms,
              per_request, result.non_2xx + result.socket_errors, note)
    return row, result


def missing(scenario: str, target: Process) -> Row:
    return Row(scenario, str(len(target.workers())), note=MISSING)


async def health_rounds(targets: dict[str, Process], settings: Settings) -> dict[str, Row]:
    """/health on every target in interleaved rounds, so background noise hits all alike;
    requests/s is the total over the rounds, p50/p99 the median of the rounds."""
    results: dict[str, list[wrk.WrkResult]] = {name: [] for name in targets}
    for turn in range(settings.rounds):
        order = list(targets) if turn % 2 == 0 else list(reversed(targets))
        for name in order:
            results[name].append(await wrk.run(targets[name].url + "/health",
                                               settings.round_seconds, settings.connections))
    rows = {}
    for name, runs in results.items():
        rps = sum(r.requests for r in runs) / sum(r.seconds for r in runs)
        rows[name] = Row(f"GET /health ({name})", str(len(targets[name].workers())), rps,
                         statistics.median(r.p50_ms for r in runs),
                         statistics.median(r.p99_ms for r in runs),
                         None, sum(r.non_2xx + r.socket_errors for r in runs),
                         f"{settings.rounds} interleaved rounds of {settings.round_seconds:g}s")
    return rows


async def users_me(target: Process, settings: Settings, label: str) -> Row:
    scenario = f"GET {API}/users/me ({label})"
    if not await probe.route_exists(target.url, "GET", f"{API}/users/me"):
        return missing(scenario, target)
    try:
        [user] = await probe.register(target.url, 1, "me")
    except RouteMissing:
        return missing(scenario, target)
    row, _ = await measure(target, scenario, f"{API}/users/me", settings.seconds,
                           settings.connections, "bearer.lua", (user.access_token,))
    return row


async def login(target: Process, settings: Settings, users: list[probe.Seeded],
                connections: int) -> Row:
    scenario = f"POST {API}/auth/login (bcrypt 12)"
    if not users:
        return missing(scenario, target)
    row, _ = await measure(target, scenario, f"{API}/auth/login", settings.login_seconds,
                           connections, "login.lua", (PASSWORD, *(u.email for u in users)),
                           note=f"{connections} connections")
    return row


async def refresh(target: Process, settings: Settings, connections: int) -> Row:
    scenario = f"POST {API}/auth/refresh-token (rotation)"
    if not await probe.route_exists(target.url, "POST", f"{API}/auth/refresh-token"):
        return missing(scenario, target)
    try:
        # wrk calls request() once more than it has connections before the first answer
        # comes back: spare sessions keep every request on a live token.
        users = await probe.register(target.url, connections + 4, "refresh")
    except RouteMissing:
        return missing(scenario, target)
    row, _ = await measure(target, scenario, f"{API}/auth/refresh-token", settings.seconds,
                           connections, "refresh.lua", tuple(u.refresh_token for u in users),
                           note=f"{connections} sessions, each token presented once")
    return row


async def health_under_login(target: Process, settings: Settings, users: list[probe.Seeded],
                             connections: int) -> Row:
    """/health over one connection (no queueing behind itself) while logins saturate bcrypt."""
    scenario = "GET /health during full-speed logins"
    if not users:
        return missing(scenario, target)
    logins = asyncio.create_task(wrk.run(
        f"{target.url}{API}/auth/login", settings.login_seconds + 2, connections, "login.lua",
        (PASSWORD, *(u.email for u in users))))
    await asyncio.sleep(1.0)  # let the logins reach full speed first
    row, _ = await measure(target, scenario, "/health", settings.login_seconds, 1)
    load = await logins
    return Row(row.scenario, row.workers, row.rps, row.p50_ms, row.p99_ms, None, row.non_2xx,
               f"1 connection; logins alongside: {load.rps:.1f}/s over {connections} "
               f"connections")
