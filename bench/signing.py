"""`python -m bench.signing` (or `./dev bench --signing`): authenticated GET /users/me with
EdDSA-signed tokens beside HS256 in one run (issue 15: EdDSA >= 0.95 x HS256 requests/s).

Three services on one embedded database, 1 worker each, rate limiter on (budgets lifted):
HS256, EdDSA, and EdDSA with the verified-token cache off (jwt.token_cache_size 0, what an
asymmetric verify costs per request without it). wrk runs against them in interleaved
rounds, so background noise on a shared machine hits all alike; requests/s is the total over
the rounds, p50/p99 the median of the rounds. Prints one table and the target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from datetime import UTC, datetime

from bench import machine, probe, wrk
from bench.probe import API
from bench.report import Check, Row, checks, table
from bench.service import OUT, Process, gatehouse, write_config
from server.runtime.embedded_db import EmbeddedDb

ME = f"{API}/users/me"
TARGET = 0.95


def services(uri: str) -> dict[str, Process]:
    found = {}
    for name, alg, extra in (("HS256", "HS256", {}), ("EdDSA", "EdDSA", {}),
                             ("EdDSA, token cache off", "EdDSA", {"token_cache_size": 0})):
        slug = name.lower().replace(", ", "-").replace(" ", "-")
        config = write_config(OUT / f"bench-signing-{slug}.yaml", uri, f"gh_bench_{slug}",
                              limiter=True, algorithm=alg, **extra)
        found[name] = gatehouse(name, config, 1)
    return found


async def rounds(targets: dict[str, Process], tokens: dict[str, str], seconds: float,
                 count: int, connections: int) -> dict[str, Row]:
    runs: dict[str, list[wrk.WrkResult]] = {name: [] for name in targets}
    cpu = dict.fromkeys(targets, 0.0)
    for turn in range(count):
        for name in list(targets) if turn % 2 == 0 else list(reversed(targets)):
            started = targets[name].cpu_seconds()
            runs[name].append(await wrk.run(targets[name].url + ME, seconds, connections,
                                            "bearer.lua", (tokens[name],)))
            cpu[name] += targets[name].cpu_seconds() - started
    rows = {}
    for name, done in runs.items():
        total = sum(r.requests for r in done)
        rows[name] = Row(f"GET {ME} ({name})", "1", total / sum(r.seconds for r in done),
                         statistics.median(r.p50_ms for r in done),
                         statistics.median(r.p99_ms for r in done), None,
                         sum(r.non_2xx + r.socket_errors for r in done),
                         f"{count} interleaved rounds of {seconds:g}s",
                         cpu[name] / total * 1e6 if total else None)
    return rows


async def run(seconds: float, count: int, connections: int) -> str:
    at_start = machine.describe()  # its load average is the one before the run
    db = EmbeddedDb(":memory:")
    uri = db.start()
    targets = services(uri)
    try:
        for process in targets.values():
            process.start("/health/ready")
        tokens = {}
        for name, process in targets.items():
            [user] = await probe.register(process.url, 1, "sig")
            tokens[name] = user.access_token
        await asyncio.sleep(1.5)  # the verification mail's outbox writes are not this route's
        for name, process in targets.items():  # warm-up: imports, caches, pools
            await wrk.run(process.url + ME, 1, connections, "bearer.lua", (tokens[name],))
        rows = await rounds(targets, tokens, seconds, count, connections)
    finally:
        for process in targets.values():
            process.stop()
        db.stop()
    eddsa, hs256 = rows["EdDSA"].rps, rows["HS256"].rps
    ratio = eddsa / hs256 if eddsa is not None and hs256 else None
    found = [Check(f"GET /users/me EdDSA >= {TARGET} x HS256 requests/s",
                   f"{ratio:.3f} x" if ratio else "n/a",
                   ratio >= TARGET if ratio else None)]
    text = "\n".join([
        f"Gatehouse signing benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {at_start}",
        f"Load: wrk -t1 -c{connections} --latency, one bearer token per service (a client "
        "sends the same token for its lifetime). Load average at the end: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "", table(list(rows.values())), "", checks(found)])
    (OUT / "last-signing-run.md").write_text(text + "\n", encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.signing", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="per round and service")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    print(asyncio.run(run(args.seconds, args.rounds, args.connections)))


if __name__ == "__main__":
    main()
