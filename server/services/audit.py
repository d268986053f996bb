"""Security events and auth metrics for service flows, without the HTTP request."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from server.observability.logs import security_event


@dataclass(frozen=True, slots=True)
class Audit:
    """Who is asking (request id, client IP) and where auth counters go; handlers build one
    per request so services can log security events without importing aiohttp."""

    request_id: str | None = None
    ip: str | None = None
    metrics: Any = None  # server.observability.metrics.Metrics, or None (CLI, tests of a model)

    def event(self, name: str, *, metric: str | None = None, level: int = logging.INFO,
              **fields: Any) -> None:
        """Log `name` as a security event; count `metric` as an auth event if given."""
        security_event(name, self.request_id, level, ip=self.ip, **fields)
        if metric is not None and self.metrics is not None:
            self.metrics.auth_event(metric)
