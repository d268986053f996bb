"""What each layer costs over the wire: `python -m bench.ablation`.

bench.breakdown times the chain in process, where everything is cache-hot; a served request
pays about twice that. This serves the real app once per variant (the full chain, the chain
with one layer or the response hooks taken out, the chain with all of them out) on uvloop
in its own process, next to the bare yardstick alone, with the contract's response headers,
with ten middlewares that only pass the request on, and with both. It drives /health with
wrk in interleaved rounds and prints requests/s, the ratio to the bare app and the server's
CPU time per request (user + system, from /proc). A layer's cost is the full chain's CPU per
request minus that of the variant without it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

import uvloop
from aiohttp import web

from bench import wrk
from bench.breakdown import ALL_LAYERS, app_without, layer_names
from bench.service import DRESSED, OUT, Process, bare, write_config
from server.core.config import load_config
from server.observability.logs import setup_logging
from server.runtime.around import metrics_dir
from server.runtime.embedded_db import EmbeddedDb

FULL = "full chain"
BARE = "bare"
LAYERED = "bare + 10 empty middlewares"
BOTH = "bare + contract headers + 10 empty middlewares"
YARDSTICKS = {BARE: (False, 0), DRESSED: (True, 0), LAYERED: (False, 10), BOTH: (True, 10)}


def serve(config_path: str, variant: str, port: int) -> None:
    """Child process: one variant of the app, served like a worker serves it."""
    config = load_config(config_path)
    setup_logging(config.logging)
    app = app_without(config, None if variant == FULL else variant)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None,
                loop=uvloop.new_event_loop())


def _variant(config: Path, name: str) -> Process:
    if name in YARDSTICKS:
        headers, layers = YARDSTICKS[name]
        return bare(name, contract_headers=headers, empty_layers=layers)
    return Process(name, [sys.executable, "-m", "bench.ablation", "--serve", name,
                          "--config", str(config)])


async def measure(processes: list[Process], rounds: int, seconds: float,
                  connections: int) -> dict[str, tuple[float, float]]:
    """(requests/s, CPU us per request) per process: medians over interleaved rounds."""
    samples: dict[str, list[tuple[float, float]]] = {p.name: [] for p in processes}
    for turn in range(rounds):
        for process in processes if turn % 2 == 0 else reversed(processes):
            before = process.cpu_seconds()
            result = await wrk.run(process.url + "/health", seconds, connections)
            cpu = process.cpu_seconds() - before
            samples[process.name].append((result.rps, cpu / result.requests * 1e6))
    return {name: (statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs))
            for name, runs in samples.items()}


def render(found: dict[str, tuple[float, float]]) -> str:
    bare_rps = found[BARE][0]
    full_us = found[FULL][1]
    lines = ["| variant | req/s | x bare | CPU us/req | saved vs full chain |",
             "| --- | --: | --: | --: | --: |"]
    for name, (rps, us) in found.items():
        kept = name in YARDSTICKS or name == FULL
        saved = "" if kept else f"{full_us - us:.1f}"
        label = name if kept else f"without {name}"
        lines.append(f"| {label} | {rps:,.0f} | {rps / bare_rps:.2f} | {us:.1f} | {saved} |")
    return "\n".join(lines)


async def run(rounds: int, seconds: float, connections: int) -> str:
    db = EmbeddedDb(":memory:")
    uri = db.start()
    config = write_config(OUT / "ablation.yaml", uri, "gatehouse_ablation", limiter=True)
    names = [*YARDSTICKS, FULL, *layer_names(load_config(config))]
    processes = [_variant(config, name) for name in names]
    try:
        for process in processes:
            process.start("/health")
            await wrk.run(process.url + "/health", 1, connections)  # warm-up
        found = await measure(processes, rounds, seconds, connections)
    finally:
        for process in processes:
            process.stop()
        db.stop()
    return (f"/health, wrk -t1 -c{connections}, {rounds} interleaved rounds of {seconds:g}s "
            f"per variant; one process each (rate limiter on, budgets lifted; access log at "
            f"info to /dev/null); `{ALL_LAYERS}` = no middleware and no response hook.\n\n"
            + render(found))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ablation", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.config, args.serve, args.port)
        return
    with metrics_dir():  # every variant publishes its metrics as a multi-worker run does
        print(asyncio.run(run(args.rounds, args.seconds, args.connections)))


if __name__ == "__main__":
    main()
