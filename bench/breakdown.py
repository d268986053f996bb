"""Where a /health request's CPU goes: `python -m bench.breakdown`.

Drives the real app in process (no sockets, no wrk) with mocked transports, so the numbers
are the Python cost of the chain alone and far steadier than a load test on a shared
machine: the full chain, then the chain with one layer removed at a time (its cost is the
difference), against the bare app of bench/bare_app.py.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

import middlewares
from bench import bare_app
from server.core.config import Config, load_config
from server.observability.logs import setup_logging
from server.web.app import create_app

ROOT_CONFIG = "config.yaml"
REQUESTS = 2000
RUNS = 3


async def _noop(*_: object, **__: object) -> None:
    return None


def _requests(app: web.Application, count: int) -> list[web.Request]:
    writer = mock.Mock(write_headers=_noop, write=_noop, write_eof=_noop, drain=_noop)
    transport = mock.Mock()
    transport.get_extra_info = lambda name, default=None: (
        ("127.0.0.1", 40000) if name == "peername" else default)
    return [make_mocked_request("GET", "/health", app=app, writer=writer, transport=transport,
                                headers={"Host": "bench", "User-Agent": "wrk"})
            for _ in range(count)]


async def per_request_us(app: web.Application) -> float:
    """Median over RUNS of the mean time to handle, prepare and finish one /health."""
    app.freeze()
    times = []
    for _ in range(RUNS):
        batch = _requests(app, REQUESTS)
        started = time.perf_counter()
        for request in batch:
            response = await app._handle(request)  # what the server calls per request
            await response.prepare(request)
            await response.write_eof()
        times.append((time.perf_counter() - started) / REQUESTS * 1e6)
    return statistics.median(times)


ALL_LAYERS = "every layer and hook"
# Sets the request's facts (client IP, clock reading, ...) that every later layer reads, so
# it cannot be taken out alone: its cost is part of "every layer and hook".
REQUIRED = frozenset({"request_id_middleware"})


def layer_names(config: Config) -> list[str]:
    """What app_without can remove: each middleware by name, the response hooks, or all."""
    chain = [getattr(m, "__name__", "?") for m in middlewares.build_middlewares(config)]
    return [*(name for name in chain if name not in REQUIRED), "response hooks", ALL_LAYERS]


def app_without(config: Config, name: str | None) -> web.Application:
    """The service's app with one layer (or all of them) taken out; None keeps everything."""
    app = create_app(config)
    if name in ("response hooks", ALL_LAYERS):
        app.on_response_prepare.clear()
    if name == ALL_LAYERS:
        app.middlewares.clear()
    elif name is not None:  # the chain may change until the app is frozen
        app.middlewares[:] = [m for m in app.middlewares
                              if name not in getattr(m, "__name__", "")]
    return app


async def main() -> None:
    sys.stdout = open("/dev/null", "w")  # noqa: SIM115, ASYNC230 - the access log goes here
    setup_logging(load_config(ROOT_CONFIG).logging)
    bare = await per_request_us(bare_app.make_app())
    config = load_config(ROOT_CONFIG)
    full = await per_request_us(app_without(config, None))
    lines = [f"bare aiohttp: {bare:.1f} us, full chain: {full:.1f} us per /health "
             f"({full / bare:.2f} x); cost of each layer (full minus full-without-it; "
             "differences within about 1 us are noise):"]
    for layer in (name for name in layer_names(config) if name != ALL_LAYERS):
        without = await per_request_us(app_without(config, layer))
        lines.append(f"  {layer:<34} {full - without:5.1f} us")
    print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
