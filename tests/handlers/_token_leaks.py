"""Attacks for issue 13 item 6: make mailed tokens travel in request paths in every failing
way we can think of, then look for them in the service's log output."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp

from tests._app import bearer
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, NEW_PASSWORD, PASSWORD, mailed_tokens, person

API = AUTH.rsplit("/", 1)[0]
ADA = "ada@example.com"
WEAK = {"password": "weak"}
# The limits the attacked service must run with (rate_limit.max / auth_max, trust_proxy 1).
LIMITS = {"max": 12, "auth_max": 5}
REPEAT_IP = "192.0.2.200"  # the one address that runs out of budget


class Attacker:
    """Sends requests to the service, each from a fresh address (trust_proxy: 1) unless
    told otherwise, so only the rate-limit step ever runs out of budget."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base, self.sent = session, base, 0

    async def send(self, method: str, path: str, *, ip: str | None = None,
                   headers: dict[str, str] | None = None, **kwargs: Any) -> int:
        self.sent += 1
        address = ip or f"10.{self.sent // 250}.{self.sent % 250}.1"
        async with self.session.request(
                method, self.base + path, allow_redirects=False,
                headers={"X-Forwarded-For": address, **(headers or {})}, **kwargs) as resp:
            await resp.read()
            return resp.status

    async def expect(self, status: int, method: str, path: str, **kwargs: Any) -> None:
        got = await self.send(method, path, **kwargs)
        assert got == status, f"{method} {path}: {got}, expected {status}"


async def misuse(a: Attacker, verify: str, reset: str) -> None:
    """Every failure a live token can meet in a path, none of which spends it."""
    for method, path in [("GET", f"{AUTH}/reset-password/{reset}/x"),
                         ("POST", f"{AUTH}/reset-password/{reset}/"),
                         ("GET", f"{AUTH}/verify-email/{verify}/x"),
                         ("GET", f"{AUTH}/verify-email/{verify}/"),
                         ("POST", f"{API}//auth/reset-password/{reset}"),
                         ("GET", f"{AUTH}//verify-email/{verify}"),
                         ("POST", f"{AUTH}/reset-password//{reset}"),
                         ("GET", f"{AUTH}/verify-email?token={verify}"),
                         ("POST", f"{AUTH}/reset-password?token={reset}")]:
        await a.expect(404, method, path, json=WEAK if method == "POST" else None)
    # An escaped slash: the path the service sees has a real one.
    await a.send("GET", f"{AUTH}/verify-email/{verify}%2Fmore")
    for method, path in [("GET", f"{AUTH}/reset-password/{reset}"),
                         ("PUT", f"{AUTH}/reset-password/{reset}"),
                         ("DELETE", f"{AUTH}/reset-password/{reset}"),
                         ("POST", f"{AUTH}/verify-email/{verify}"),
                         ("PATCH", f"{AUTH}/verify-email/{verify}")]:
        await a.expect(405, method, path)
    await bad_bodies(a, f"{AUTH}/reset-password/{reset}")
    # Each token on the other token's route, and the tokens where no route takes them.
    await a.expect(400, "GET", f"{AUTH}/verify-email/{reset}")
    await a.expect(400, "POST", f"{AUTH}/reset-password/{verify}", json={"password": PASSWORD})
    await a.expect(401, "GET", f"{AUTH}/sessions", headers=bearer(reset))
    await a.expect(401, "POST", f"{AUTH}/refresh-token", json={"refreshToken": verify})
    await a.expect(400, "POST", f"{AUTH}/forgot-password", json={"email": reset})
    await a.expect(401, "POST", f"{AUTH}/login", json={"email": ADA, "password": verify})
    # Cross-site preflights of the token routes.
    for path in (f"{AUTH}/reset-password/{reset}", f"{AUTH}/verify-email/{verify}/x"):
        await a.send("OPTIONS", path, headers={"Origin": "https://evil.example",
                                               "Access-Control-Request-Method": "POST"})
    await rate_limited(a, verify, reset)


async def bad_bodies(a: Attacker, path: str) -> None:
    json_type = {"Content-Type": "application/json"}
    await a.expect(400, "POST", path, data=b"{not json", headers=json_type)
    await a.expect(400, "POST", path, json=WEAK)
    await a.expect(400, "POST", path, json={"password": NEW_PASSWORD, "admin": True})
    await a.expect(400, "POST", path, json=[1, 2])
    await a.expect(400, "POST", path, data={"password": "weak"})
    await a.expect(415, "POST", path, data=b"password=x", headers={"Content-Type": "text/plain"})
    await a.expect(413, "POST", path, data=b"{" + b" " * 200_000 + b"}", headers=json_type)
    await a.expect(400, "POST", path)


async def rate_limited(a: Attacker, verify: str, reset: str) -> None:
    """From one address: spend the credential budget on the reset link, then the general
    budget on the verification link, then knock on both while refused."""
    statuses = [await a.send("POST", f"{AUTH}/reset-password/{reset}", ip=REPEAT_IP, json=WEAK)
                for _ in range(LIMITS["auth_max"] + 1)]
    assert statuses[-1] == 429, statuses
    for _ in range(LIMITS["max"]):
        await a.send("GET", f"{AUTH}/verify-email/{verify}/x", ip=REPEAT_IP)
    for method, path in [("GET", f"{AUTH}/verify-email/{verify}"),
                         ("GET", f"{AUTH}/reset-password/{reset}"),
                         ("POST", f"{AUTH}/reset-password/{reset}/x"),
                         ("POST", f"{AUTH}/verify-email/{verify}")]:
        await a.expect(429, method, path, ip=REPEAT_IP)


async def leak_attempts(session: aiohttp.ClientSession, base: str, sink: SmtpSink,
                        move_clock: Callable[[timedelta], None] | None = None) -> list[str]:
    """Run every attack; return every token mailed. With `move_clock`, the first links are
    also tried after they expired; without, they are used and then replayed."""
    a = Attacker(session, base)
    await a.expect(201, "POST", f"{AUTH}/register", json=person(ADA))
    verify = (await mailed_tokens(sink, ADA, "verify-email"))[-1]
    await a.expect(200, "POST", f"{AUTH}/forgot-password", json={"email": ADA})
    reset = (await mailed_tokens(sink, ADA, "reset-password"))[-1]
    await misuse(a, verify, reset)
    if move_clock is not None:
        move_clock(timedelta(hours=25))
        await a.expect(400, "GET", f"{AUTH}/verify-email/{verify}")
        await a.expect(400, "POST", f"{AUTH}/reset-password/{reset}",
                       json={"password": NEW_PASSWORD})
    await used_then_replayed(a, sink)
    return [*await mailed_tokens(sink, ADA, "verify-email", 2),
            *await mailed_tokens(sink, ADA, "reset-password", 2)]


async def used_then_replayed(a: Attacker, sink: SmtpSink) -> None:
    """A fresh verification and reset link each: used once, then replayed and misused."""
    resp = await a.session.post(a.base + f"{AUTH}/login",
                                json={"email": ADA, "password": PASSWORD},
                                headers={"X-Forwarded-For": "198.51.100.1"})
    access = (await resp.json())["data"]["accessToken"]
    await a.expect(200, "POST", f"{AUTH}/resend-verification",
                   headers=bearer(access), json={})
    verify = (await mailed_tokens(sink, ADA, "verify-email", 2))[-1]
    await a.expect(200, "POST", f"{AUTH}/forgot-password", json={"email": ADA})
    reset = (await mailed_tokens(sink, ADA, "reset-password", 2))[-1]
    await a.expect(200, "GET", f"{AUTH}/verify-email/{verify}")
    await a.expect(400, "GET", f"{AUTH}/verify-email/{verify}")
    await a.expect(200, "POST", f"{AUTH}/reset-password/{reset}",
                   json={"password": NEW_PASSWORD})
    await a.expect(400, "POST", f"{AUTH}/reset-password/{reset}",
                   json={"password": NEW_PASSWORD})
    await a.expect(405, "GET", f"{AUTH}/reset-password/{reset}")
    await a.expect(404, "GET", f"{AUTH}/verify-email/{verify}/x")
