"""The log writers themselves: a value orjson refuses never costs a line (its own or another's
in the same batch), and text lines escape what could break or forge a line."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Iterator

import orjson
import pytest

from server.core.config import LoggingConfig
from server.observability.logs import ACCESS, TextFormatter, access, setup_logging


@pytest.fixture
def served_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Logging set up as a served process has it (the JSON fast path), writing to a buffer."""
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buffer)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging(LoggingConfig())
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)


class TestAccessBatch:
    async def test_one_bad_value_costs_no_line(self, served_logging: io.StringIO) -> None:
        for n in range(5):
            agent = "bad\udcff" if n == 2 else "probe"  # as aiohttp decodes a 0xff byte
            access({"requestId": f"r{n}", "userAgent": agent, "extra": {"k": "\udcfe"}})
        await asyncio.sleep(0)  # the batch is written on the next turn of the loop
        lines = [orjson.loads(x) for x in served_logging.getvalue().splitlines()]
        assert [x["requestId"] for x in lines] == [f"r{n}" for n in range(5)]
        assert lines[2]["userAgent"] == "bad\ufffd"
        assert "\udcfe" not in served_logging.getvalue()


class TestTextLines:
    def line(self, msg: str, **fields: object) -> str:
        record = ACCESS.makeRecord(ACCESS.name, logging.INFO, __file__, 1, msg, (), None)
        record.fields = fields
        return TextFormatter().format(record)

    def test_control_characters_are_escaped(self) -> None:
        text = self.line("req\nuest", path="/x\n2099-01-01 info forged\r\x1b[2K",
                         userAgent="a\u2028b\udcff")
        assert "\n" not in text
        assert "\r" not in text
        assert "\x1b" not in text
        assert "\u2028" not in text
        assert "\\x0a" in text
        assert "\\u2028" in text
        assert "\\udcff" in text
        assert text.encode("utf-8")

    def test_values_with_spaces_are_quoted(self) -> None:
        text = self.line("request", path='/x status=200 "y"', ip="127.0.0.1")
        assert text.endswith('path="/x status=200 \\"y\\"" ip=127.0.0.1')
