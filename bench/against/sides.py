"""The two services compared, each on its own embedded database daemon: how to start one, seed
accounts in it, phrase its requests, and read its counters."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from pymongo import AsyncMongoClient

from bench import probe
from bench.against.readings import AccessLog, Snapshot, top_commands
from bench.probe import API, PASSWORD
from bench.service import OUT, Process, gatehouse, pid_cpu_seconds, write_config
from server.runtime.embedded_db import EmbeddedDb

GATEHOUSE, FASTAPI_USERS = "Gatehouse", "fastapi-users"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
EMAIL = "@EMAIL@"  # where register.lua puts each request's new address
HERE = Path(__file__).resolve().parent


def login_bodies(service: str, emails: list[str]) -> tuple[str, list[str]]:
    """Content type and one login body per account, in the service's own format."""
    if service == GATEHOUSE:
        return JSON, [json.dumps({"email": e, "password": PASSWORD}) for e in emails]
    return FORM, [urlencode({"username": e, "password": PASSWORD}) for e in emails]


def register_template(service: str) -> tuple[str, str]:
    """Content type and the register body with EMAIL where each new address goes."""
    body: dict[str, str] = {"email": EMAIL, "password": PASSWORD}
    if service == GATEHOUSE:
        body = {"firstName": "Bench", "lastName": "User", **body}
    return JSON, json.dumps(body)


@dataclass
class Side:
    """One service under test with its own database daemon."""

    service: str
    process: Process
    db: EmbeddedDb
    database: str
    me_path: str
    login_path: str
    register_path: str
    session: aiohttp.ClientSession | None = None
    mongo: AsyncMongoClient | None = None  # type: ignore[type-arg]
    access_log: AccessLog | None = None
    emails: list[str] = field(default_factory=list)
    access_token: str = ""

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def workers(self) -> int:
        return len(self.process.workers())

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
        self.mongo = AsyncMongoClient(self.db.uri)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.mongo is not None:
            await self.mongo.close()

    async def served(self) -> tuple[float, float | None]:
        """Requests answered so far, and (Gatehouse) the database commands it counted."""
        if self.access_log is not None:
            return float(self.access_log.count()), None
        assert self.session is not None  # noqa: S101 - open() first
        counters = await probe.counters(self.session, self.process.metrics_url)
        return counters.requests, counters.db_commands

    async def snapshot(self) -> Snapshot:
        assert self.mongo is not None  # noqa: S101 - open() first
        served, own = await self.served()
        at = time.monotonic()
        cpu = self.process.cpu_seconds(with_master=True)
        db_cpu = pid_cpu_seconds(self.db.process.pid) if self.db.process else 0.0
        commands = top_commands(await self.mongo.admin.command("top"), self.database)
        return Snapshot(at, served, cpu, db_cpu, commands, own)

    async def commands(self) -> float:
        """Commands run on the service's database so far (`top`)."""
        assert self.mongo is not None  # noqa: S101 - open() first
        return top_commands(await self.mongo.admin.command("top"), self.database)

    async def settled(self, quiet_s: float = 0.5, limit_s: float = 30.0) -> None:
        """Wait until no command has reached the database for `quiet_s` (e.g. the outbox
        sender has sent the mail of the last register), at most `limit_s`."""
        deadline = time.monotonic() + limit_s
        last = await self.commands()
        while time.monotonic() < deadline:
            await asyncio.sleep(quiet_s)
            now = await self.commands()
            if now == last:
                return
            last = now

    async def seed(self, count: int) -> None:
        """`count` accounts over HTTP (one bcrypt hash each) and an access token for one."""
        assert self.session is not None  # noqa: S101 - open() first
        if self.service == GATEHOUSE:
            users = await probe.register(self.url, count, "login")
            self.emails, self.access_token = [u.email for u in users], users[0].access_token
            return
        emails = [f"bench-login-{uuid.uuid4().hex[:10]}@example.com" for _ in range(count)]
        await asyncio.gather(*(self._register(e) for e in emails))
        content_type, [body, *_] = login_bodies(self.service, emails)
        async with self.session.post(self.url + self.login_path, data=body,
                                     headers={"Content-Type": content_type}) as reply:
            reply.raise_for_status()
            self.emails, self.access_token = emails, (await reply.json())["access_token"]

    async def _register(self, email: str) -> None:
        assert self.session is not None  # noqa: S101 - open() first
        async with self.session.post(self.url + self.register_path,
                                     json={"email": email, "password": PASSWORD}) as reply:
            if reply.status != 201:
                raise RuntimeError(f"{self.service} register answered {reply.status}")


def gatehouse_side(workers: int) -> Side:
    db = EmbeddedDb(":memory:")
    name = f"against-gatehouse-{workers}w"
    config = write_config(OUT / f"{name}.yaml", db.uri, "gatehouse_bench", limiter=False)
    return Side(GATEHOUSE, gatehouse(name, config, workers), db, "gatehouse_bench",
                f"{API}/users/me", f"{API}/auth/login", f"{API}/auth/register")


def fastapi_users_side(python: Path, workers: int) -> Side:
    db = EmbeddedDb(":memory:")
    name = f"against-fastapi-users-{workers}w"
    log = OUT / f"{name}.access.log"
    log.unlink(missing_ok=True)
    process = Process(
        name, [str(python), "-m", "uvicorn", "--app-dir", str(HERE), "fastapi_users_app:app",
               "--host", "127.0.0.1", "--loop", "uvloop", "--http", "httptools",
               "--workers", str(workers)],
        env={"FU_MONGODB_URI": db.uri, "FU_MONGODB_DATABASE": "fastapi_users_bench"},
        stdout=log)
    return Side(FASTAPI_USERS, process, db, "fastapi_users_bench", "/users/me",
                "/auth/jwt/login", "/auth/register", access_log=AccessLog(log))


def start(side: Side) -> None:
    """Its database first, then the service, ready when /health answers."""
    side.db.start()
    side.process.start("/health/ready" if side.service == GATEHOUSE else "/health")


def stop(side: Side) -> None:
    side.process.stop()
    side.db.stop()
