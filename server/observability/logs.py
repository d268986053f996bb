"""Structured logging: JSON lines on stdout, and the security-event helper."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from typing import Any, cast

import orjson

from server.core.clock import iso, utcnow
from server.core.config import LoggingConfig
from server.core.text import printable, well_formed

ACCESS = logging.getLogger("gatehouse.access")
SECURITY = logging.getLogger("gatehouse.security")
APP = logging.getLogger("gatehouse")

# Never logged, whatever a caller passes in `fields`.
_SECRET_FIELDS = frozenset({"password", "token", "accesstoken", "refreshtoken", "authorization",
                            "cookie", "hash", "link", "newpassword", "currentpassword"})


# A traceback keeps its innermost frames (where it failed) and a bounded size: a
# RecursionError would otherwise put ~1000 frames (~150 KB) on one line.
TRACE_FRAMES = 6
TRACE_CHARS = 4000


def format_exception(exc: BaseException) -> str:
    """The last TRACE_FRAMES frames of each exception in the chain, at most TRACE_CHARS."""
    text = "".join(traceback.format_exception(exc, limit=-TRACE_FRAMES))
    return text if len(text) <= TRACE_CHARS else "..." + text[-TRACE_CHARS:]


def _json_safe(value: Any) -> Any:
    try:
        orjson.dumps(value, default=str)
    except TypeError:  # orjson.JSONEncodeError: lone surrogates, or a value str() cannot fix
        try:
            text = value if isinstance(value, str) else repr(value)
        except Exception:  # a broken __repr__ must not cost the line
            text = "<unprintable>"
        return well_formed(text)
    return value


def dump_line(line: dict[str, Any], option: int = 0) -> bytes:
    """One log line as JSON. Never raises for a bad value: a field orjson refuses (text with
    undecodable bytes, say) is written as well-formed text instead, and the line survives."""
    try:
        return orjson.dumps(line, default=str, option=option)
    except TypeError:
        safe = {well_formed(str(k)): _json_safe(v) for k, v in line.items()}
        return orjson.dumps(safe, default=str, option=option)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, msg and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": iso(utcnow()), "level": record.levelname.lower(),
                                "logger": record.name, "msg": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info and record.levelno >= logging.ERROR:
            line["exc"] = self.formatException(record.exc_info)
        return dump_line(line).decode()

    def formatException(self, ei: Any) -> str:
        return format_exception(ei[1]) if ei[1] is not None else ""


def _logfmt(value: Any) -> str:
    text = printable(str(value))
    if text and not any(c in text for c in ' ="'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class TextFormatter(logging.Formatter):
    """One line per record, `key=value` fields (quoted when they hold a space, `=` or `"`).
    Every part that may carry client text has its control characters (and undecodable
    bytes) escaped, so a `%0a` in a path can never start a forged line."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{printable(str(k))}={_logfmt(v)}"
                          for k, v in getattr(record, "fields", {}).items())
        head = f"{iso(utcnow())} {record.levelname.lower()} {printable(record.name)}"
        line = f"{head} {printable(record.getMessage())} {fields}"
        if record.exc_info and record.levelno >= logging.ERROR and record.exc_info[1]:
            line += f" exc={_logfmt(format_exception(record.exc_info[1]))}"
        return line


class _Line:
    """What a handler's filters see of an access line written by `access()` (they may add
    fields, as the worker's pid filter does)."""

    __slots__ = ("fields", "levelname", "levelno", "msg", "name")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.name, self.levelno, self.levelname, self.msg = ACCESS.name, logging.INFO, "INFO", ""
        self.fields = fields


def access(fields: dict[str, Any]) -> None:
    """Write one access line. Through `logging` this costs ~25 us a request, a third of the
    whole chain; so when setup_logging's JSON handler is the only one (a served process), the
    line is built here, in the very shape JsonFormatter gives it, and the lines of one
    event-loop turn are written together. Anything else (tests capturing records, text
    format, extra handlers) goes through `logging`."""
    handler = logging.root.handlers[0] if len(logging.root.handlers) == 1 else None
    if (handler is None or not getattr(handler, "fast_access", False) or ACCESS.handlers
            or APP.handlers or not ACCESS.propagate):
        ACCESS.info("request", extra={"fields": fields})
        return
    # Filters only touch the attributes _Line has (the worker's adds a pid to `fields`).
    line = _Line(fields)
    record = cast(logging.LogRecord, line)
    for check in handler.filters:
        if not (check.filter(record) if isinstance(check, logging.Filter)
                else check(record)):  # type: ignore[operator]
            return
    pending: list[dict[str, Any]] = handler.access_pending  # type: ignore[attr-defined]
    pending.append(line.fields)
    if len(pending) == 1:
        try:
            asyncio.get_running_loop().call_soon(_write_access, handler)
        except RuntimeError:  # no event loop: write at once
            _write_access(handler)


def _write_access(handler: Any) -> None:
    # One lock, one write and one flush for every line of the turn; "time" is when the line
    # is formatted, as with JsonFormatter. Each line is serialised on its own by dump_line,
    # which never raises: one bad value can never cost the other lines of the batch.
    fields, handler.access_pending = handler.access_pending, []
    head = {"time": iso(utcnow()), "level": "info", "logger": ACCESS.name, "msg": "request"}
    text = b"".join(dump_line({**head, **line}, orjson.OPT_APPEND_NEWLINE) for line in fields)
    with handler.lock:
        handler.stream.write(text.decode())
        handler.stream.flush()


class _RedactParserErrors(logging.Filter):
    """aiohttp's parser errors quote the offending raw header line, which may be a malformed
    `Authorization` or `Cookie`: keep the event, never its text or traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = "malformed request rejected by the HTTP parser", ()
        record.exc_info, record.exc_text = None, None
        return True


def _guard_library_loggers() -> None:
    # pymongo's DEBUG logging prints whole commands and replies (user documents, token
    # hashes, mail bodies): never below WARNING, whatever logging.level says.
    logging.getLogger("pymongo").setLevel(logging.WARNING)
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _RedactParserErrors) for f in server_log.filters):
        server_log.addFilter(_RedactParserErrors())


def setup_logging(config: LoggingConfig) -> None:
    """Route every logger to stdout in the configured format (idempotent)."""
    # Our formatters never print the caller, thread or process of a record: skip collecting
    # them on every record (the logging HOWTO's "Optimization" section); about 4 us per line.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    handler.fast_access = config.format == "json"  # type: ignore[attr-defined]
    handler.access_pending = []  # type: ignore[attr-defined]
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.level.upper())
    _guard_library_loggers()


def clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop any field whose name says it holds a secret."""
    return {k: v for k, v in fields.items() if k.lower() not in _SECRET_FIELDS}


def security_event(event: str, request_id: str | None, level: int = logging.INFO,
                   **fields: Any) -> None:
    """Log a security event (login_failed, account_locked, ...) as its own line."""
    if SECURITY.isEnabledFor(level):
        SECURITY.log(level, event, extra={"fields": {"event": event, "requestId": request_id,
                                                       **clean(fields)}})
