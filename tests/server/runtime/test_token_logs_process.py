"""Issue 13 item 6 against `run.py` itself: every byte the service prints (stdout and stderr,
at DEBUG, from master and workers) is free of the tokens it mailed while being attacked."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pymongo import MongoClient

from tests._process import Service, write_config
from tests.conftest import SmtpSink
from tests.handlers._token_leaks import LIMITS, leak_attempts

pytestmark = pytest.mark.process


@pytest.fixture
def service(tmp_path: Path, mongo_uri: str, smtp_server: SmtpSink) -> Iterator[Service]:
    name = f"gh_proc_{uuid.uuid4().hex[:12]}"
    config = write_config(
        tmp_path / "config.yaml",
        mongodb={"uri": mongo_uri, "database": name},
        server={"trust_proxy": 1},
        logging={"level": "debug", "format": "json"},
        rate_limit={"enabled": True, "store": "mongodb", **LIMITS},
        mail={"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": smtp_server.port,
                                          "starttls": False}})
    running = Service(tmp_path, config, workers=2)
    try:
        yield running.start()
    finally:
        running.close()
        client: MongoClient[Any] = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)
        client.drop_database(name)
        client.close()


async def test_no_mailed_token_is_ever_printed(service: Service,
                                               smtp_server: SmtpSink) -> None:
    async with aiohttp.ClientSession() as session:
        tokens = await leak_attempts(session, service.url, smtp_server)
    assert len(set(tokens)) == 4
    service.signal(signal.SIGTERM)  # a graceful stop flushes every pending line
    assert service.wait() == 0
    printed = service.log_path.read_text(encoding="utf-8") + service.stderr()
    assert "rate_limited" in printed
    assert "/api/v1/auth/reset-password/{token}" in printed
    leaked = [line for line in printed.splitlines() if any(t in line for t in tokens)]
    assert not leaked, "\n".join(leaked[:5])
