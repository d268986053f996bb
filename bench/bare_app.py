"""The yardstick: a bare aiohttp app on uvloop answering /health's JSON with no middleware.

`python -m bench.bare_app --port N` serves it; the benchmark compares the full service's
/health against this, in the same run, on the same machine.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import orjson
import uvloop
from aiohttp import web

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


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(make_app(), host="127.0.0.1", port=args.port, access_log=None,
                print=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
