"""Prometheus metrics of the whole service; with several workers, summed across them.

In a multi-worker run the supervisor sets PROMETHEUS_MULTIPROC_DIR before workers import
prometheus_client; every worker then writes its samples to files there and /metrics
aggregates all of them, so any worker answers for the whole service.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Label values known before any event: each series is created at 0 when the app is built, so
# a dashboard or alert reads 0, not "no data", until the first one (API.md, /metrics). Every
# `metric=` a flow passes and every rate-limit Budget name must be listed here (a test reads
# the code and checks).
AUTH_EVENTS = ("login_ok", "login_failed", "lockout", "refresh", "reuse_detected")
RATE_LIMIT_BUDGETS = ("ip", "auth", "user")
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The service's metric families, registered in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        # Request bookkeeping is published once per event-loop turn (see flush()).
        self._serving = 0
        self._served: list[tuple[str, str, int, float]] = []
        self._flush_due = False
        self.requests = Counter("gatehouse_http_requests_total", "HTTP requests",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("gatehouse_http_request_duration_seconds",
                                 "HTTP request latency", ["method", "route"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("gatehouse_http_requests_in_flight", "Requests being served",
                               registry=self.registry, multiprocess_mode="livesum")
        self.auth_events = Counter("gatehouse_auth_events_total",
                                   "Authentication events (login_ok, login_failed, lockout, "
                                   "refresh, reuse_detected)", ["event"], registry=self.registry)
        self.rate_limited = Counter("gatehouse_rate_limit_rejections_total",
                                    "Requests rejected by a rate limit", ["budget"],
                                    registry=self.registry)
        for event in AUTH_EVENTS:
            self.auth_events.labels(event)
        for budget in RATE_LIMIT_BUDGETS:
            self.rate_limited.labels(budget)
        # Fed by server/db.py's command listener: the benchmark divides it by requests.
        self.db_commands = Counter("gatehouse_db_commands_total",
                                   "Database commands sent, by command name", ["command"],
                                   registry=self.registry)

    def request_started(self) -> None:
        """One more request in flight."""
        self._serving += 1
        self._flush_soon()

    def request_finished(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one served request and its latency; it is no longer in flight."""
        self._serving -= 1
        self._served.append((method, route, status, seconds))
        self._flush_soon()

    def _flush_soon(self) -> None:
        if self._flush_due:
            return
        self._flush_due = True
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # no loop (a script, a test helper): publish at once
            self.flush()

    def flush(self) -> None:
        """Publish the requests of this event-loop turn. With several workers every metric
        update is a locked write to a memory-mapped file (~3 us, 5 per request, a sixth of
        /health's cost); batched per turn, the gauge is written once and each counter once
        per series, however many requests the turn served. Stale by one turn at most."""
        self._flush_due = False
        served, self._served = self._served, []
        self.in_flight.set(self._serving)
        counts: dict[tuple[str, str, int], int] = {}
        for method, route, status, seconds in served:
            key = (method, route, status)
            counts[key] = counts.get(key, 0) + 1
            self._children(key)[1].observe(seconds)
        for key, count in counts.items():
            self._children(key)[0].inc(count)

    def _children(self, key: tuple[str, str, int]) -> tuple[Any, Any]:
        series = self._series.get(key)
        if series is None:
            # labels() validates and takes a lock on every call (about 2 us each): look the
            # children up once per (method, route, status); routes are templates, so few.
            method, route, status = key
            series = self._series[key] = (self.requests.labels(method, route, str(status)),
                                          self.latency.labels(method, route))
        return series

    def auth_event(self, event: str) -> None:
        self.auth_events.labels(event).inc()

    def render(self) -> bytes:
        """The exposition text: every worker's files when multiprocess, else this registry."""
        self.flush()  # this worker's own numbers up to this very request
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if path and os.path.isdir(path):
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)
