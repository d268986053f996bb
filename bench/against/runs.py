"""The compared scenarios: the same wrk load on each service in turn, read in a steady window."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace

from bench import probe, wrk
from bench.against.readings import Reading, Window
from bench.against.sides import GATEHOUSE, Side, login_bodies, register_template
from bench.probe import API


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str  # health, me, login, register, refresh
    title: str
    seconds: float
    connections: int
    skip: float  # ramp-up left out of the window
    stop: float  # the window closes this long before wrk stops

    @property
    def window(self) -> float:
        return max(0.5, self.seconds - self.skip - self.stop)


def scenarios(fast_s: float, slow_s: float, connections: int) -> list[Scenario]:
    return [
        Scenario("health", "GET /health", fast_s, connections, 1.0, 0.5),
        Scenario("me", "GET current user (Bearer)", fast_s, connections, 1.0, 0.5),
        Scenario("login", "login, 64 accounts (bcrypt 12)", slow_s, 8, 2.0, 1.0),
        Scenario("register", "register (bcrypt 12)", slow_s, 8, 2.0, 1.0),
        Scenario("refresh", "refresh-token rotation", fast_s, 8, 1.0, 0.5),
    ]


def load(side: Side, scenario: Scenario) -> tuple[str, str | None, tuple[str, ...]]:
    """Path, wrk script and its arguments for `scenario` on `side` (refresh: see refresh())."""
    if scenario.key == "health":
        return "/health", None, ()
    if scenario.key == "me":
        return side.me_path, "bearer.lua", (side.access_token,)
    if scenario.key == "login":
        content_type, bodies = login_bodies(side.service, side.emails)
        return side.login_path, "against/bodies.lua", (content_type, *bodies)
    if scenario.key == "register":
        content_type, template = register_template(side.service)
        # The lua counter restarts with every wrk run: a tag per run keeps addresses unique.
        return side.register_path, "against/register.lua", (content_type, template,
                                                            uuid.uuid4().hex[:8])
    raise ValueError(scenario.key)


async def measure(side: Side, scenario: Scenario, path: str, script: str | None,
                  args: tuple[str, ...]) -> tuple[Window, wrk.WrkResult]:
    """One wrk run on `side`, with its counters read at both ends of the steady window."""
    running = asyncio.create_task(wrk.run(side.url + path, scenario.seconds,
                                          scenario.connections, script, args))
    await asyncio.sleep(scenario.skip)
    first = await side.snapshot()
    await asyncio.sleep(scenario.window)
    last = await side.snapshot()
    return Window.between(first, last), await running


async def refresh(side: Side, scenario: Scenario) -> tuple[Window, wrk.WrkResult]:
    """Gatehouse's rotation: fresh sessions each round (a rotated token is spent)."""
    users = await probe.register(side.url, scenario.connections + 4, "refresh")
    await asyncio.sleep(1.5)  # the verification mails' outbox writes are not this route's
    return await measure(side, scenario, f"{API}/auth/refresh-token", "refresh.lua",
                         tuple(u.refresh_token for u in users))


async def _rotate(side: Side, token: str) -> str:
    assert side.session is not None  # noqa: S101 - open() first
    async with side.session.post(f"{side.url}{API}/auth/refresh-token",
                                 json={"refreshToken": token}) as reply:
        payload = await reply.json(content_type=None)
        if reply.status != 200:
            raise RuntimeError(f"refresh answered {reply.status}: {payload.get('error')}")
        cookie = reply.cookies.get("refreshToken")
    return cookie.value if cookie else str(payload["data"]["refresh_token"])


async def quiet_rotations(side: Side, count: int = 50) -> float:
    """Database commands per rotation, `count` rotations one after the other with nothing
    else running: exact. (A window under load also counts the commands of rotations in
    flight at its end but not those at its start, or the other way round: +-0.002 per
    rotation at ~240/s over 8 connections, which is what a strict `<= 2` check saw.)"""
    [user] = await probe.register(side.url, 1, "quiet")
    await side.settled()  # its verification mail is not this route's
    before = await side.commands()
    token = user.refresh_token
    for _ in range(count):
        token = await _rotate(side, token)
    return (await side.commands() - before) / count


async def alternate(sides: list[Side], chosen: list[Scenario],
                    rounds: int) -> dict[tuple[str, str], Reading]:
    """Each scenario on each side in turn, `rounds` times (A, B, A, B); keyed (scenario, service).
    Scenarios run one after the other, register last of the shared ones, so the accounts it
    adds do not grow the collections the earlier scenarios read."""
    found: dict[tuple[str, str], Reading] = {}
    for scenario in chosen:
        taken: dict[str, list[tuple[Window, wrk.WrkResult]]] = {s.service: [] for s in sides}
        for _ in range(rounds):
            for side in sides:
                if scenario.key == "refresh":
                    if side.service != GATEHOUSE:
                        continue
                    taken[side.service].append(await refresh(side, scenario))
                else:
                    taken[side.service].append(await measure(side, scenario,
                                                             *load(side, scenario)))
        for service, rows in taken.items():
            if rows:
                found[(scenario.key, service)] = Reading.combine(rows)
        if scenario.key == "refresh":
            for side in sides:
                if side.service == GATEHOUSE and (scenario.key, side.service) in found:
                    found[(scenario.key, side.service)] = replace(
                        found[(scenario.key, side.service)],
                        quiet_commands=await quiet_rotations(side))
    return found
