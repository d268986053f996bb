"""The yardstick: a bare aiohttp app on uvloop answering /health's JSON with no middleware.

`python -m bench.bare_app --port N` serves it; the benchmark compares the full service's
/health against this, in the same run, on the same machine. With `--contract-headers` the
handler also sends the headers the contract puts on every answer (request id, the helmet
set, `Vary: Origin`), still with no middleware: the share of the gap that is bytes on the
wire rather than work in the chain. With `--empty-layers N` it runs N middlewares that
only pass the request on: the price of the layering itself.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

import orjson
import uvloop
from aiohttp import web
from aiohttp.typedefs import Handler

STARTED_AT = time.monotonic()


async def health(request: web.Request) -> web.Response:
    # Same fields, same encoder and same timestamp format as handlers/health.py.
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return web.Response(body=orjson.dumps({
        "status": "healthy",
        "timestamp": now,
        "uptime": round(time.monotonic() - STARTED_AT, 3),
        "environment": "production",
        "version": "0.1.0",
    }), content_type="application/json")


@web.middleware
async def pass_through(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request)


def make_app(contract_headers: bool = False, empty_layers: int = 0) -> web.Application:
    app = web.Application(middlewares=[pass_through] * empty_layers)
    if not contract_headers:
        app.router.add_get("/health", health)
        return app
    # Imported only here: the plain yardstick loads nothing of the service (its RSS and
    # caches stay those of a bare app).
    from server.core.http import SECURITY_HEADERS

    async def health_with_contract_headers(request: web.Request) -> web.Response:
        response = await health(request)
        response.headers["X-Request-ID"] = os.urandom(16).hex()
        response.headers.add("Vary", "Origin")
        response.headers.extend(SECURITY_HEADERS)
        return response

    app.router.add_get("/health", health_with_contract_headers)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--contract-headers", action="store_true")
    parser.add_argument("--empty-layers", type=int, default=0)
    args = parser.parse_args()
    web.run_app(make_app(args.contract_headers, args.empty_layers), host="127.0.0.1",
                port=args.port, access_log=None, print=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
