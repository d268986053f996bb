"""Rate-limit test support: a real redis-server, limiter settings, an aligned clock, tokens.
(The fixtures built on these, `redis_server`, `redis_url`, `limited`, `limited_client`, are
in tests/conftest.py.)"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from aiohttp import web

from server.core.clock import utcnow
from server.core.config import Config
from server.core.keys import CLOCK
from server.runtime.embedded_db import free_port
from server.security import create_access_token
from tests._app import bearer

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


def limit_env(store: str, redis_url: str = "", **keys: Any) -> dict[str, str]:
    """APP__ overrides turning the limiter on (loaded like a real config file)."""
    env = {"APP__RATE_LIMIT__ENABLED": "true", "APP__RATE_LIMIT__STORE": store}
    if redis_url:
        env["APP__RATE_LIMIT__REDIS_URL"] = redis_url
    env.update({f"APP__RATE_LIMIT__{k.upper()}": str(v) for k, v in keys.items()})
    return env


def aligned_clock(window: timedelta) -> Callable[[], datetime]:
    """Real time shifted to just after a window boundary, so no test straddles one."""
    size = window.total_seconds()
    now = utcnow().timestamp()
    offset = math.ceil(now / size) * size - now + 0.05
    return lambda: utcnow() + timedelta(seconds=offset)


def signed_in(app: web.Application, config: Config, user_id: str) -> dict[str, str]:
    """The bearer header of a fresh access token for `user_id`, minted at the app's clock."""
    token = create_access_token(config.jwt, user_id=user_id, email=f"{user_id}@example.com",
                                role="user", session_id="f" * 24, now=app[CLOCK]())
    return bearer(token)
