"""The shared fixtures of every test directory: a real wire-protocol database, per-test config,
clients on the real app (built by tests/_app.py's `build_app`), an SMTP sink, a redis-server
and rate-limited configs."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo import MongoClient

from server.core.config import Config, LoggingConfig, SmtpConfig, load_config, with_overrides
from server.db import ensure_indexes
from server.db import make_client as make_motor_client
from server.observability.logs import setup_logging
from server.runtime.embedded_db import EmbeddedDb, free_port
from tests._app import bearer, build_app
from tests._rate_limit import STORES, aligned_clock, limit_env, start_redis
from tests._smtp_sink import SmtpSink as SmtpSink  # re-exported: the tests import it here

ROOT = Path(__file__).resolve().parents[1]  # the repository
TEST_CONFIG = Path(__file__).with_name("config.test.yaml")
# metrics.token of config.test.yaml: /metrics on the API port answers only its bearer.
METRICS_TOKEN = "test-metrics-token-0123456789abcdef"
METRICS_AUTH = bearer(METRICS_TOKEN)


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """TEST_MONGODB_URI (a real mongod) when given, else a throwaway embedded database."""
    given = os.environ.get("TEST_MONGODB_URI")
    if given:
        yield given
        return
    db = EmbeddedDb(":memory:")
    uri = db.start()
    yield uri
    db.stop()


@pytest.fixture
def make_config(mongo_uri: str) -> Iterator[Callable[..., Config]]:
    """Build a test config on a fresh database; `sections` override fields per section.
    Every database it names is dropped after the test."""
    names: list[str] = []

    def build(environ: dict[str, str] | None = None, **sections: dict[str, Any]) -> Config:
        name = f"gh_test_{uuid.uuid4().hex[:12]}"
        names.append(name)
        env = {"APP__MONGODB__URI": mongo_uri, "APP__MONGODB__DATABASE": name, **(environ or {})}
        return with_overrides(load_config(TEST_CONFIG, env), **sections)

    yield build
    client: MongoClient = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)  # type: ignore[type-arg]
    try:
        for name in names:
            client.drop_database(name)
    finally:
        client.close()


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest.fixture
async def make_client(aiohttp_client: Any) -> Callable[..., Any]:
    """`await make_client(config, test_routes=False, clock=None, **client_options)`: start
    `build_app(config, ...)` and return an HTTP client on it (options go to aiohttp_client)."""

    async def start(config: Config, *, test_routes: bool = False,
                    clock: Callable[[], datetime] | None = None,
                    **client_options: Any) -> TestClient:  # type: ignore[type-arg]
        app = build_app(config, test_routes=test_routes, clock=clock)
        return await aiohttp_client(app, **client_options)  # type: ignore[no-any-return]

    return start


@pytest.fixture
async def client(make_client: Callable[..., Any], config: Config) -> TestClient:  # type: ignore[type-arg]
    return await make_client(config)  # type: ignore[no-any-return]


@pytest.fixture
async def api(make_client: Callable[..., Any], config: Config) -> TestClient:  # type: ignore[type-arg]
    """A client on the real app plus the test-only routes of tests/_app.py."""
    return await make_client(config, test_routes=True)  # type: ignore[no-any-return]


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_config(smtp_server: SmtpSink) -> SmtpConfig:
    """Mail settings for the sink: `make_config(mail={"backend": "smtp", "smtp": smtp_config})`."""
    return SmtpConfig(host="127.0.0.1", port=smtp_server.port, starttls=False,
                      timeout=timedelta(seconds=2))


@pytest.fixture
async def mail_client(make_client: Callable[..., Any], make_config: Callable[..., Config],
                      smtp_config: SmtpConfig) -> TestClient:  # type: ignore[type-arg]
    """A client on the real app whose mail goes to `smtp_server` (read it there: the outbox
    drops a message's body, which holds a token, once it is delivered)."""
    return await make_client(make_config(mail={"backend": "smtp", "smtp": smtp_config}))  # type: ignore[no-any-return]


@pytest.fixture
async def base_url(config: Config) -> AsyncIterator[str]:
    """The real app listening on a free loopback port (for clients outside aiohttp:
    a browser, schemathesis)."""
    runner = web.AppRunner(build_app(config))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def db(config: Config) -> AsyncIterator[Any]:
    """A Motor handle on the test's own database, with every collection's indexes."""
    client = make_motor_client(config.mongodb.uri, 2.0, 10)
    database = client[config.mongodb.database]
    await ensure_indexes(database)
    yield database
    client.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    process, url = start_redis()
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The shared redis-server, emptied: every test starts from zero counts."""
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture(params=STORES)
def limited(request: pytest.FixtureRequest,
            make_config: Callable[..., Config]) -> Callable[..., Config]:
    """`limited(max=3, ...)`: a config with the limiter on, once per store."""
    store = request.param
    url = request.getfixturevalue("redis_url") if store == "redis" else ""

    def build(environ: dict[str, str] | None = None, **keys: Any) -> Config:
        return make_config(environ={**limit_env(store, url, **keys), **(environ or {})})

    return build


@pytest.fixture
def limited_client(make_client: Callable[..., Any]) -> Callable[..., Any]:
    """`await limited_client(config, clock=None)`: a client on the app with the test routes
    (PING), its clock by default real time aligned to the IP window, so no burst straddles one."""

    async def start(config: Config, clock: Callable[[], datetime] | None = None) -> Any:
        return await make_client(config, test_routes=True,
                                 clock=clock or aligned_clock(config.rate_limit.window))

    return start


@contextlib.contextmanager
def printed_log(monkeypatch: pytest.MonkeyPatch, fmt: str = "json") -> Iterator[io.StringIO]:
    """What the service would print to stdout, at DEBUG, in `fmt`. The SMTP sink (aiosmtpd,
    logger `mail.log`) is the test's mail server, not the service: it is muted."""
    buffer = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.setattr(sys, "stdout", buffer)
    monkeypatch.setattr(logging.getLogger("mail.log"), "disabled", True)
    setup_logging(LoggingConfig(level="debug", format=fmt))
    try:
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.fixture
def service_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Everything the service logs during the test, as JSON lines (see printed_log)."""
    with printed_log(monkeypatch) as buffer:
        yield buffer
