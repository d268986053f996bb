"""The measured scenarios: each runs wrk against one service and returns a table row."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
from dataclasses import dataclass

import aiohttp

from bench import machine, probe, wrk
from bench.probe import API, PASSWORD, RouteMissing
from bench.report import Row
from bench.service import Process

MISSING = "n/a (route missing)"
PROBE_PAUSE_MS = 2  # /health probe during logins: 2 connections, 2 ms between requests
# Login throughput is read from the service's own counter while the load runs: skip the
# ramp-up, stop before wrk does, sample this often in between.
STEADY_SKIP_S, STEADY_STOP_S, STEADY_EVERY_S = 2.0, 1.0, 0.5


@dataclass
class Settings:
    seconds: float = 5.0
    login_seconds: float = 20.0
    connections: int = 32
    rounds: int = 3
    round_seconds: float = 3.0


async def measure(target: Process, scenario: str, path: str, seconds: float, connections: int,
                  script: str | None = None, args: tuple[str, ...] = (),
                  note: str = "") -> Row:
    """wrk against `target`, with database commands and CPU time per request served."""
    async with aiohttp.ClientSession() as session:
        before, cpu = await probe.counters(session, target.metrics_url), target.cpu_seconds()
        result = await wrk.run(target.url + path, seconds, connections, script, args)
        # Requests in flight when wrk stops have sent their database commands but are not
        # counted yet: let them finish, or commands per request come out high.
        await asyncio.sleep(0.5)
        cpu, after = target.cpu_seconds() - cpu, await probe.counters(session, target.metrics_url)
    served = after.requests - before.requests
    per_request = (after.db_commands - before.db_commands) / served if served else None
    return Row(scenario, str(len(target.workers())), result.rps, result.p50_ms, result.p99_ms,
               per_request, result.non_2xx + result.socket_errors, note,
               cpu / served * 1e6 if served else None)


def missing(scenario: str, target: Process) -> Row:
    return Row(scenario, str(len(target.workers())), note=MISSING)


async def health_rounds(targets: dict[str, Process], settings: Settings) -> dict[str, Row]:
    """/health on every target in interleaved rounds, so background noise hits all alike;
    requests/s is the total over the rounds, p50/p99 the median of the rounds."""
    results: dict[str, list[wrk.WrkResult]] = {name: [] for name in targets}
    cpu = dict.fromkeys(targets, 0.0)
    for turn in range(settings.rounds):
        order = list(targets) if turn % 2 == 0 else list(reversed(targets))
        for name in order:
            started = targets[name].cpu_seconds()
            results[name].append(await wrk.run(targets[name].url + "/health",
                                               settings.round_seconds, settings.connections))
            cpu[name] += targets[name].cpu_seconds() - started
    rows = {}
    for name, runs in results.items():
        done = sum(r.requests for r in runs)
        rows[name] = Row(f"GET /health ({name})", str(len(targets[name].workers())),
                         done / sum(r.seconds for r in runs),
                         statistics.median(r.p50_ms for r in runs),
                         statistics.median(r.p99_ms for r in runs),
                         None, sum(r.non_2xx + r.socket_errors for r in runs),
                         f"{settings.rounds} interleaved rounds of {settings.round_seconds:g}s",
                         cpu[name] / done * 1e6 if done else None)
    return rows


async def users_me(target: Process, settings: Settings, label: str) -> Row:
    scenario = f"GET {API}/users/me ({label})"
    if not await probe.route_exists(target.url, "GET", f"{API}/users/me"):
        return missing(scenario, target)
    try:
        [user] = await probe.register(target.url, 1, "me")
    except RouteMissing:
        return missing(scenario, target)
    await asyncio.sleep(1.5)  # the verification mail's outbox writes are not this route's
    return await measure(target, scenario, f"{API}/users/me", settings.seconds,
                         settings.connections, "bearer.lua", (user.access_token,))


async def steady_rate(target: Process, seconds: float) -> float | None:
    """Requests completed per second while a load of `seconds` runs (call as it starts).

    The slope of a line fitted to the service's request counter, sampled every 0.5 s from
    2 s in until 1 s before the end: neither the ramp-up nor the work still in flight when
    the load stops counts. That in-flight work matters for logins: each is a 0.2 s bcrypt
    job, and the up to one job per bcrypt thread that wrk abandons at its deadline would
    otherwise read as lost throughput (about 3% of an 8 s run with 2 workers)."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(STEADY_SKIP_S)
    times: list[float] = []
    counts: list[float] = []
    async with aiohttp.ClientSession() as session:
        end = loop.time() + seconds - STEADY_SKIP_S - STEADY_STOP_S
        while loop.time() < end:
            counts.append((await probe.counters(session, target.metrics_url)).requests)
            times.append(loop.time())
            await asyncio.sleep(STEADY_EVERY_S)
    if len(times) < 3:
        return None
    return statistics.linear_regression(times, counts).slope


async def login(target: Process, settings: Settings, users: list[probe.Seeded],
                connections: int) -> tuple[Row, float | None]:
    """The login row, and the bcrypt ceiling (cores / one check) measured just before it:
    the other tenants of a shared machine change it from minute to minute. Requests/s is
    the steady rate (steady_rate); wrk's own figure goes in the note."""
    scenario = f"POST {API}/auth/login (bcrypt 12)"
    if not users:
        return missing(scenario, target), None
    limit = (os.cpu_count() or 1) / machine.bcrypt_check_seconds(samples=3)
    rate = asyncio.create_task(steady_rate(target, settings.login_seconds))
    row = await measure(target, scenario, f"{API}/auth/login", settings.login_seconds,
                        connections, "login.lua", (PASSWORD, *(u.email for u in users)))
    steady = await rate
    note = (f"{connections} connections; bcrypt limit just before: {limit:.2f}/s; "
            f"req/s = steady rate from the service's counter (wrk's whole-run figure: "
            f"{row.rps:.2f}/s)")
    return dataclasses.replace(row, rps=steady, note=note), limit


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
    return await measure(target, scenario, f"{API}/auth/refresh-token", settings.seconds,
                         connections, "refresh.lua", tuple(u.refresh_token for u in users),
                         note=f"{connections} sessions, each token presented once")


async def health_under_login(target: Process, settings: Settings, users: list[probe.Seeded],
                             connections: int) -> Row:
    """A steady /health probe (latency, not a second flood) while logins saturate bcrypt."""
    scenario = "GET /health during full-speed logins"
    if not users:
        return missing(scenario, target)
    logins = asyncio.create_task(wrk.run(
        f"{target.url}{API}/auth/login", settings.login_seconds + 2, connections, "login.lua",
        (PASSWORD, *(u.email for u in users))))
    await asyncio.sleep(1.0)  # let the logins reach full speed first
    row = await measure(target, scenario, "/health", settings.login_seconds, 2, "paced.lua",
                        (str(PROBE_PAUSE_MS),))
    load = await logins
    return dataclasses.replace(
        row, db_per_request=None, cpu_us=None,
        note=f"probe: 2 connections, {PROBE_PAUSE_MS} ms pause; logins alongside: "
             f"{load.rps:.1f}/s over {connections} connections")
