"""The master process: binds the ports once, runs and restarts workers, reloads and stops them.

Workers are started with the *spawn* method, not fork: each is a fresh interpreter that imports
prometheus_client only after the master has set PROMETHEUS_MULTIPROC_DIR, inherits no event loop,
Motor/PyMongo client or thread from the master, and picks up new code on a SIGHUP reload. The
listening sockets (API and metrics, server/runtime/listeners.py) are handed to each worker as
inherited file descriptors.

Signals (handled in the main loop, never inside a signal handler):
  SIGTERM / SIGINT  stop accepting, let in-flight requests finish, exit 0 (a second one kills)
  SIGHUP            replace workers one by one with zero downtime (config file re-read)
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from server.core.config import Config, with_overrides
from server.core.config_values import ConfigError
from server.runtime.listeners import Listeners

LOG = logging.getLogger("gatehouse.supervisor")
_SPAWN = multiprocessing.get_context("spawn")
_HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_READY_TIMEOUT_S = 60.0  # a worker that is not serving by then is considered failed
_STABLE_AFTER_S = 10.0  # a worker that lived this long was not part of a crash loop
_BACKOFF_BASE_S = 0.5
_BACKOFF_MAX_S = 30.0
_KILL_MARGIN_S = 5.0  # beyond shutdown_timeout, before SIGKILL


def _log(msg: str, **fields: object) -> None:
    LOG.info(msg, extra={"fields": fields})


def worker_count(config: Config) -> int:
    """server.workers, with 0 meaning one per core."""
    return config.server.workers or os.cpu_count() or 1


def _worker_main(config: Config, listeners: Listeners, ready: Connection) -> None:
    """Spawn target. The app (aiohttp, Motor, prometheus_client) is imported here, in the
    worker only: the master stays light and answers signals from its first second."""
    from server.runtime.worker import run_worker

    run_worker(config, listeners, ready)


@dataclass
class _Worker:
    process: BaseProcess
    ready: Connection
    started: float
    retiring: bool = False


class Supervisor:
    """Keeps `worker_count(config)` workers serving `listeners`; see the module docstring."""

    def __init__(
        self,
        config: Config,
        listeners: Listeners,
        metrics_path: str,
        reload_config: Callable[[], Config] | None = None,
    ) -> None:
        self.config = config
        self.listeners = listeners
        self.metrics_path = metrics_path
        self.reload_config = reload_config
        self.workers: list[_Worker] = []
        self.restarts_due: list[float] = []
        self.failures = 0
        self.stopping = False
        self.reload_requested = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)

    def run(self) -> int:
        previous = self._install_signals()
        try:
            for _ in range(worker_count(self.config)):
                self._spawn()
            while not self.stopping:
                self._wait(self._next_timeout())
                self._reap()
                self._restart_due()
                if self.reload_requested and not self.stopping:
                    self.reload_requested = False
                    self._reload()
            self._stop()
            return 0
        finally:
            self._kill_all()
            self._restore_signals(previous)

    def _install_signals(self) -> dict[signal.Signals, Any]:
        # The C-level handler writes the signal number to the pipe; the no-op Python handler
        # only keeps the default action (death) away. All decisions happen in the main loop.
        previous = {sig: signal.signal(sig, lambda *_: None) for sig in _HANDLED}
        self._previous_wakeup = signal.set_wakeup_fd(self._wake_w)
        return previous

    def _restore_signals(self, previous: dict[signal.Signals, Any]) -> None:
        signal.set_wakeup_fd(self._previous_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _spawn(self) -> _Worker:
        receive, send = _SPAWN.Pipe(duplex=False)
        process = _SPAWN.Process(
            target=_worker_main, args=(self.config, self.listeners, send), name="gatehouse-worker"
        )
        process.start()
        send.close()  # only the worker holds the sending end, so its death reads as EOF
        worker = _Worker(process, receive, time.monotonic())
        self.workers.append(worker)
        _log("worker started", event="worker_started", worker_pid=process.pid)
        return worker

    def _next_timeout(self) -> float:
        if not self.restarts_due:
            return 5.0
        return max(0.0, min(self.restarts_due) - time.monotonic())

    def _wait(self, timeout: float, extra: tuple[Connection, ...] = ()) -> list[Any]:
        """Sleep until a signal, a worker's exit, `extra` readiness or `timeout`; handles the
        signals that arrived and returns what became ready."""
        sentinels = [w.process.sentinel for w in self.workers]
        ready = wait([self._wake_r, *sentinels, *extra], timeout)
        if self._wake_r in ready:
            self._handle_signals()
        return ready

    def _handle_signals(self) -> None:
        try:
            received = os.read(self._wake_r, 64)
        except BlockingIOError:
            return
        for number in received:
            if number in (signal.SIGTERM, signal.SIGINT):
                if self.stopping:
                    self._log_signal(number, "second stop signal: killing workers")
                    self._kill_all()
                else:
                    self._log_signal(number, "stopping")
                    self.stopping = True
            elif number == signal.SIGHUP and not self.stopping:
                # Acted on by the main loop, so a SIGHUP during a reload queues one more.
                self._log_signal(number, "reload requested")
                self.reload_requested = True

    def _log_signal(self, number: int, what: str) -> None:
        _log(what, event="signal", signal=signal.Signals(number).name)

    def _reap(self) -> None:
        for worker in [w for w in self.workers if not w.process.is_alive()]:
            worker.process.join()
            worker.ready.close()
            self.workers.remove(worker)
            self._forget(worker.process.pid)
            lived = time.monotonic() - worker.started
            _log(
                "worker exited",
                event="worker_exited",
                worker_pid=worker.process.pid,
                exit_code=worker.process.exitcode,
                lived_s=round(lived, 3),
            )
            if not (worker.retiring or self.stopping):
                self._schedule_restart(lived)

    def _forget(self, pid: int | None) -> None:
        # Counters of a dead worker stay (totals must not drop); its live gauges must go.
        from prometheus_client.multiprocess import mark_process_dead

        if pid is not None:
            mark_process_dead(pid, self.metrics_path)  # type: ignore[no-untyped-call]

    def _schedule_restart(self, lived: float) -> None:
        """Exponential back-off: a worker that keeps dying young is restarted ever later."""
        self.failures = self.failures + 1 if lived < _STABLE_AFTER_S else 0
        delay = (
            0.0
            if self.failures == 0
            else min(_BACKOFF_BASE_S * 2 ** (self.failures - 1), _BACKOFF_MAX_S)
        )
        self.restarts_due.append(time.monotonic() + delay)
        _log("worker restart scheduled", event="worker_restart", delay_s=delay)

    def _restart_due(self) -> None:
        now = time.monotonic()
        due = [t for t in self.restarts_due if t <= now]
        self.restarts_due = [t for t in self.restarts_due if t > now]
        for _ in due:
            self._spawn()

    def _reload(self) -> None:
        """Start a new worker, wait until it serves, then retire one old one; repeat."""
        self._apply_new_config()
        # The reload brings the count back to target by itself: no pending restart on top.
        self.restarts_due.clear()
        old = [w for w in self.workers if not w.retiring]
        for index in range(worker_count(self.config)):
            new = self._spawn()
            if not self._wait_ready(new):
                # The old workers keep serving; the failed one is not restarted on top of them.
                self._retire(new)
                _log("reload aborted: a new worker did not start", event="reload_failed")
                serving = len([w for w in self.workers if not w.retiring])
                for _ in range(worker_count(self.config) - serving):
                    self._schedule_restart(lived=0.0)
                return
            if index < len(old):
                self._retire(old[index])
        for worker in old[worker_count(self.config) :]:
            self._retire(worker)
        _log(
            "reload complete",
            event="reloaded",
            worker_pids=[w.process.pid for w in self.workers if not w.retiring],
        )

    def _apply_new_config(self) -> None:
        if self.reload_config is None:
            return
        try:
            fresh = self.reload_config()
        except ConfigError as exc:
            _log("reload keeps the old config", event="config_error", error=str(exc))
            return
        # The sockets are bound and the database running: those cannot change without a
        # restart (the metrics token can).
        self.config = with_overrides(
            fresh,
            server={"host": self.config.server.host, "port": self.config.server.port},
            mongodb={"uri": self.config.mongodb.uri, "data_dir": self.config.mongodb.data_dir},
            metrics={"host": self.config.metrics.host, "port": self.config.metrics.port},
        )

    def _wait_ready(self, worker: _Worker) -> bool:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while not self.stopping and time.monotonic() < deadline:
            ready = self._wait(deadline - time.monotonic(), (worker.ready,))
            if worker.ready in ready:
                try:
                    worker.ready.recv()
                except EOFError:
                    return False  # it died before serving
                return True
        return False

    def _retire(self, worker: _Worker) -> None:
        worker.retiring = True
        if worker.process.is_alive():
            worker.process.terminate()

    def _stop(self) -> None:
        """Close our copies of the sockets, SIGTERM every worker, wait for them to drain."""
        self.listeners.close()
        for worker in self.workers:
            self._retire(worker)
        deadline = time.monotonic() + self.config.server.shutdown_timeout.total_seconds()
        deadline += _KILL_MARGIN_S
        while self.workers and time.monotonic() < deadline:
            self._wait(deadline - time.monotonic())
            self._reap()
        self._kill_all()
        _log("stopped", event="stopped")

    def _kill_all(self) -> None:
        self.stopping = True
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.kill()
        for worker in list(self.workers):
            worker.process.join(5)
        self._reap()
