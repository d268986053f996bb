"""One worker process: uvloop + aiohttp on the master's listening sockets until told to stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from multiprocessing.connection import Connection

import uvloop
from aiohttp import web

from server.core.config import Config
from server.observability.logs import setup_logging
from server.observability.metrics import METRICS
from server.runtime.listeners import Listeners
from server.web.app import create_app
from server.web.hardening import server_options
from server.web.metrics_app import create_metrics_app

LOG = logging.getLogger("gatehouse.worker")

# After the listening socket is closed, connections the kernel handed us a moment earlier may
# not have sent their request line yet; aiohttp would drop them as idle. Give them this long.
_ACCEPT_GRACE_S = 0.3
# How often a worker checks that its master is still alive (an orphan stops itself).
_PARENT_CHECK_S = 1.0


class _PidFilter(logging.Filter):
    """Adds the worker's pid to every line, so an operator can tell workers apart."""

    def __init__(self) -> None:
        super().__init__()
        self.pid = os.getpid()

    def filter(self, record: logging.LogRecord) -> bool:
        record.fields = {**getattr(record, "fields", {}), "pid": self.pid}
        return True


def run_worker(config: Config, listeners: Listeners, ready: Connection) -> None:
    """Process entry point (spawned by the supervisor); returns when the worker has stopped."""
    # Ctrl-C reaches the whole foreground process group; only the master decides what to do,
    # and tells each worker with SIGTERM. SIGHUP means "reload" to the master only.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    setup_logging(config.logging)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_PidFilter())
    try:
        uvloop.run(_serve(config, listeners, ready))
    except Exception as exc:
        # One clean line instead of a traceback: a driver's message is never logged, only the
        # error's class and, for a database error, its stable code name (AuthenticationFailed).
        details = getattr(exc, "details", None)
        code = details.get("codeName") if isinstance(details, dict) else None
        fields = {"event": "worker_failed", "error": type(exc).__name__, "code": code}
        LOG.error("worker failed", extra={"fields": fields})  # noqa: TRY400 - no driver text
        raise SystemExit(1) from None


async def _serve(config: Config, listeners: Listeners, ready: Connection) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    shutdown_s = config.server.shutdown_timeout.total_seconds()
    app = create_app(config)
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=shutdown_s,
        # header_timeout and the lingering read after an answer: slow clients are cut off.
        **server_options(config.server),
    )
    # Startup runs the cleanup contexts (database client, mailer, limiter) before we accept
    # anything; none of them waits for a database that is not there.
    started = loop.time()
    await runner.setup()
    startup_s = round(loop.time() - started, 3)
    sites = [web.SockSite(runner, listeners.api)]
    metrics_runner = None
    if listeners.metrics is not None:
        # The metrics app shares this worker's Metrics: a scrape sums every worker's files.
        metrics_runner = web.AppRunner(create_metrics_app(config, app[METRICS]),
                                       access_log=None, shutdown_timeout=shutdown_s,
                                       **server_options(config.server))
        await metrics_runner.setup()
        sites.append(web.SockSite(metrics_runner, listeners.metrics))
    for site in sites:
        await site.start()
    watchdog = asyncio.create_task(_watch_parent(os.getppid(), stop))
    _report_ready(ready)
    LOG.info("worker ready", extra={"fields": {"event": "worker_ready",
                                               "startup_s": startup_s}})
    await stop.wait()
    watchdog.cancel()
    LOG.info("worker stopping", extra={"fields": {"event": "worker_stopping"}})
    for site in sites:
        await site.stop()
    await asyncio.sleep(_ACCEPT_GRACE_S)
    await _drain(runner, shutdown_s)
    if metrics_runner is not None:
        await metrics_runner.cleanup()  # scrapes are instant: nothing to drain
    # Closes what is left (after a drain timeout: cancels it) and then the database client.
    await runner.cleanup()
    LOG.info("worker stopped", extra={"fields": {"event": "worker_stopped"}})


async def _drain(runner: web.AppRunner, limit_s: float) -> None:
    """Let in-flight requests finish (up to `limit_s`) while closing idle connections.

    aiohttp's own shutdown closes every connection first and a closing connection ignores
    incoming bytes, so a request still uploading its body would starve until the timeout and
    be cancelled. We wait for those ourselves before handing over to runner.cleanup(). The
    busy flag is aiohttp's (pinned version); without it we fall back to aiohttp's behaviour.
    """
    deadline = asyncio.get_running_loop().time() + limit_s
    server = runner.server
    while server is not None and asyncio.get_running_loop().time() < deadline:
        busy = False
        for conn in server.connections:
            if getattr(conn, "_request_in_progress", False):
                busy = True
            else:
                conn.close()  # idle keep-alive: no new request may start on it
        if not busy:
            return
        await asyncio.sleep(0.05)


def _report_ready(ready: Connection) -> None:
    try:
        ready.send(os.getpid())
    except OSError:
        pass  # the master is gone; the watchdog will stop us
    finally:
        ready.close()


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """If the master dies without stopping us (kill -9), we get re-parented: stop too."""
    # Polling: nothing notifies a process of its parent's death portably.
    while os.getppid() == parent_pid:  # noqa: ASYNC110
        await asyncio.sleep(_PARENT_CHECK_S)
    LOG.warning("master is gone; stopping", extra={"fields": {"event": "orphaned"}})
    stop.set()
