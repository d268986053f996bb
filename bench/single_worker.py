"""Stand-in for run.py while it is missing: one uvloop process serving create_app(config).

`python -m bench.single_worker --config FILE --port N`; the benchmark marks numbers taken
this way, since the deliverable numbers come from run.py's master and workers.
"""

from __future__ import annotations

import argparse

import uvloop
from aiohttp import web

from server.app import create_app
from server.config import load_config, with_overrides
from server.logs import setup_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    config = load_config(args.config)
    config = with_overrides(config, server={"port": args.port})
    setup_logging(config.logging)
    web.run_app(create_app(config), host=config.server.host, port=args.port, access_log=None,
                print=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
