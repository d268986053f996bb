"""Prometheus metrics of the whole service; with several workers, summed across them.

In a multi-worker run the supervisor sets PROMETHEUS_MULTIPROC_DIR before workers import
prometheus_client; every worker then writes its samples to files there and /metrics
aggregates all of them, so any worker answers for the whole service.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The service's metric families, registered in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
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
        # Fed by server/db.py's command listener: the benchmark divides it by requests.
        self.db_commands = Counter("gatehouse_db_commands_total",
                                   "Database commands sent, by command name", ["command"],
                                   registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one served request and its latency."""
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            # labels() validates and takes a lock on every call (about 2 us each): look the
            # children up once per (method, route, status); routes are templates, so few.
            series = self._series[key] = (self.requests.labels(method, route, str(status)),
                                          self.latency.labels(method, route))
        series[0].inc()
        series[1].observe(seconds)

    def auth_event(self, event: str) -> None:
        self.auth_events.labels(event).inc()

    def render(self) -> bytes:
        """The exposition text: every worker's files when multiprocess, else this registry."""
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if path and os.path.isdir(path):
            merged = CollectorRegistry()
            MultiProcessCollector(merged, path)
            return generate_latest(merged)
        return generate_latest(self.registry)
