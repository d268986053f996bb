"""Structured logging: JSON lines on stdout, and the security-event helper."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson

from server.clock import iso, utcnow
from server.config import LoggingConfig

ACCESS = logging.getLogger("gatehouse.access")
SECURITY = logging.getLogger("gatehouse.security")
APP = logging.getLogger("gatehouse")

# Never logged, whatever a caller passes in `fields`.
_SECRET_FIELDS = frozenset({"password", "token", "accesstoken", "refreshtoken", "authorization",
                            "cookie", "hash", "link", "newpassword", "currentpassword"})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, msg and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": iso(utcnow()), "level": record.levelname.lower(),
                                "logger": record.name, "msg": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info and record.levelno >= logging.ERROR:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items())
        return f"{iso(utcnow())} {record.levelname.lower()} {record.name} {record.getMessage()} {fields}"


def setup_logging(config: LoggingConfig) -> None:
    """Route every logger to stdout in the configured format (idempotent)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.level.upper())


def clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop any field whose name says it holds a secret."""
    return {k: v for k, v in fields.items() if k.lower() not in _SECRET_FIELDS}


def security_event(event: str, request_id: str | None, level: int = logging.INFO,
                   **fields: Any) -> None:
    """Log a security event (login_failed, account_locked, ...) as its own line."""
    if SECURITY.isEnabledFor(level):
        SECURITY.log(level, event, extra={"fields": {"event": event, "requestId": request_id,
                                                       **clean(fields)}})
