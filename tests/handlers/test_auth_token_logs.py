"""Issue 13 item 6: no mailed token reaches any log line, whatever fails around it.

The app is served as a worker serves it (an AppRunner without aiohttp's own access log) and
logs through the service's own `setup_logging` at DEBUG, into a buffer that this test reads
whole: every logger, every level, in each output format.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from server.core.config import Config, SmtpConfig
from server.runtime.embedded_db import free_port
from tests._app import Clock, build_app
from tests._rate_limit import limit_env
from tests.conftest import SmtpSink, printed_log
from tests.handlers._token_leaks import LIMITS, leak_attempts


@pytest.fixture(params=["json", "text"])
def service_log(request: pytest.FixtureRequest,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the service would print, at DEBUG, in each format (see tests.conftest.printed_log)."""
    with printed_log(monkeypatch, request.param) as buffer:
        yield buffer


@pytest.fixture
async def served(make_config: Any, smtp_config: SmtpConfig) -> AsyncIterator[
        tuple[str, Clock]]:
    """The app on a loopback port, rate limited, behind one trusted proxy hop."""
    config: Config = make_config(environ=limit_env("mongodb", **LIMITS),
                                 mail={"backend": "smtp", "smtp": smtp_config},
                                 server={"trust_proxy": 1})
    clock = Clock()
    app = build_app(config, clock=clock)
    runner = web.AppRunner(app, access_log=None)  # as server/runtime/worker.py runs it
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", clock
    await runner.cleanup()


async def test_no_mailed_token_is_ever_logged(served: tuple[str, Clock],
                                              service_log: io.StringIO,
                                              smtp_server: SmtpSink) -> None:
    base, clock = served
    async with aiohttp.ClientSession() as session:
        tokens = await leak_attempts(session, base, smtp_server, move_clock=clock.advance)
    text = service_log.getvalue()
    assert len(set(tokens)) == 4
    # The attacks ran and were logged: 404s, 405s and refusals name the token routes.
    assert "rate_limited" in text
    assert "/api/v1/auth/reset-password/{token}" in text
    assert "/api/v1/auth/verify-email/{token}" in text
    assert text.count("\n") > 60
    leaked = [line for line in text.splitlines() if any(t in line for t in tokens)]
    assert not leaked, "\n".join(leaked[:5])
