"""Logging set-up: library loggers can never print credentials or database commands."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from server.core.config import LoggingConfig
from server.observability.logs import setup_logging
from tests._app import raw_exchange

SECRET = "sekrit-bearer-value"


@pytest.fixture
def debug_logging() -> Iterator[None]:
    """setup_logging at its most verbose level; the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging(LoggingConfig(level="debug", format="json"))
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_pymongo_never_logs_commands_even_at_debug(debug_logging: None) -> None:
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("pymongo").getEffectiveLevel() >= logging.WARNING
    assert not logging.getLogger("pymongo.command").isEnabledFor(logging.DEBUG)


async def test_parser_errors_never_quote_a_malformed_authorization_header(
        debug_logging: None, api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    status, _, _ = await raw_exchange(
        api, b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
             + SECRET.encode() + b"\x01\r\n\r\n")
    assert " 400 " in status
    parser_records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert parser_records, "the parser error should still be logged as an event"
    for record in parser_records:
        assert SECRET not in record.getMessage()
        assert record.exc_info is None
    assert SECRET not in caplog.text
