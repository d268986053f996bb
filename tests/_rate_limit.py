"""Rate-limit test support: a real redis-server, limited configs, an aligned clock, tokens."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from aiohttp import web

from server.core.clock import utcnow
from server.core.config import Config
from server.core.keys import CLOCK
from server.http.responses import ok
from server.runtime.embedded_db import free_port
from server.security import create_access_token
from server.web.app import create_app

PING = "/api/v1/_rl/ping"
STORES = ["mongodb", "redis"]


def start_redis(port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's redis-server on a (free) loopback port, no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (./dev test apt-installs it)")
    port = port or free_port()
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not _answers(url):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    return process, url


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
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


def limit_env(store: str, redis_url: str = "", **keys: Any) -> dict[str, str]:
    """APP__ overrides turning the limiter on (loaded like a real config file)."""
    env = {"APP__RATE_LIMIT__ENABLED": "true", "APP__RATE_LIMIT__STORE": store}
    if redis_url:
        env["APP__RATE_LIMIT__REDIS_URL"] = redis_url
    env.update({f"APP__RATE_LIMIT__{k.upper()}": str(v) for k, v in keys.items()})
    return env


@pytest.fixture(params=STORES)
def limited(request: pytest.FixtureRequest,
            make_config: Callable[..., Config]) -> Callable[..., Config]:
    """`limited(max=3, ...)`: a config with the limiter on, once per store."""
    store = request.param
    url = request.getfixturevalue("redis_url") if store == "redis" else ""

    def build(environ: dict[str, str] | None = None, **keys: Any) -> Config:
        return make_config(environ={**limit_env(store, url, **keys), **(environ or {})})

    return build


def aligned_clock(window: timedelta) -> Callable[[], datetime]:
    """Real time shifted to just after a window boundary, so no test straddles one."""
    size = window.total_seconds()
    now = utcnow().timestamp()
    offset = math.ceil(now / size) * size - now + 0.05
    return lambda: utcnow() + timedelta(seconds=offset)


async def ping(request: web.Request) -> web.Response:
    return ok(message="pong")


def build_app(config: Config, clock: Callable[[], datetime] | None = None) -> web.Application:
    """The real app plus one trivial /api/ route; the clock is aligned to the IP window."""
    app = create_app(config)
    app.router.add_get(PING, ping)
    app[CLOCK] = clock or aligned_clock(config.rate_limit.window)
    return app


def bearer(app: web.Application, config: Config, user_id: str) -> dict[str, str]:
    token = create_access_token(config.jwt, user_id=user_id, email=f"{user_id}@example.com",
                                role="user", session_id="f" * 24, now=app[CLOCK]())
    return {"Authorization": f"Bearer {token}"}
