"""The comparison's printed result: one table of both services per scenario, then the targets."""

from __future__ import annotations

from bench.against.readings import Reading, ratio
from bench.against.sides import FASTAPI_USERS, GATEHOUSE
from bench.report import Check, num

# (scenario key, service, workers) -> its reading
Found = dict[tuple[str, str, int], Reading]

TITLES = {
    "health": "GET /health",
    "me": "GET current user (Bearer)",
    "login": "login, 64 accounts, 8 conns (bcrypt 12)",
    "register": "register, 8 conns (bcrypt 12)",
    "refresh": "refresh-token rotation, 8 conns",
}
ORDER = [("health", 1), ("me", 1), ("login", 1), ("login", 2), ("register", 1), ("refresh", 1)]
NO_REFRESH = "n/a: fastapi-users has no refresh tokens (no rotation)"
HEADER = ("| scenario | service | workers | req/s | p50 ms | p99 ms | server CPU us/req "
          "| DB CPU ms/req | DB cmds/req | non-2xx | G/F req/s | G/F DB CPU/req | note |\n"
          "| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |")


def _rate(value: float | None) -> str:
    return num(value, 2 if value is not None and value < 100 else 0)


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} x"


def _row(key: str, service: str, workers: int, found: Found) -> str:
    reading = found.get((key, service, workers))
    if reading is None:
        note = NO_REFRESH if key == "refresh" and service == FASTAPI_USERS else "not measured"
        return (f"| {TITLES[key]} | {service} | {workers} | n/a | n/a | n/a | n/a | n/a | n/a "
                f"| n/a |  |  | {note} |")
    ratios = " |  |  | "
    if service == GATEHOUSE:
        theirs = found.get((key, FASTAPI_USERS, workers))
        ratios = (f" | {_times(ratio(reading.rps, theirs and theirs.rps))} | "
                  f"{_times(ratio(reading.db_cpu_ms, theirs and theirs.db_cpu_ms))} | ")
    rounds = " / ".join(_rate(r) for r in reading.rounds_rps)
    if reading.own_commands is not None:
        rounds += f"; its own counter: {reading.own_commands:.2f} cmds/req"
    if reading.quiet_commands is not None:
        rounds += f"; one at a time, nothing else running: {reading.quiet_commands:.3f} cmds/req"
    return (f"| {TITLES[key]} | {service} | {workers} | {_rate(reading.rps)} | "
            f"{num(reading.p50_ms, 2)} | {num(reading.p99_ms, 2)} | {num(reading.cpu_us, 0)} | "
            f"{num(reading.db_cpu_ms, 3)} | {num(reading.db_commands, 2)} | "
            f"{reading.non_2xx}{ratios}req/s by round: {rounds} |")


def table(found: Found) -> str:
    lines = [HEADER]
    for key, workers in ORDER:
        lines += [_row(key, service, workers, found) for service in (GATEHOUSE, FASTAPI_USERS)]
    return "\n".join(lines)


def _get(found: Found, key: str, service: str, workers: int = 1) -> Reading | None:
    return found.get((key, service, workers))


def at_least(target: str, value: float | None, floor: float) -> Check:
    if value is None:
        return Check(target, "n/a", None)
    return Check(target, f"{value:.2f} x", value >= floor)


def at_most(target: str, value: float | None, ceiling: float, unit: str) -> Check:
    if value is None:
        return Check(target, "n/a", None)
    shown = round(value, 3)  # a residue of background work (driver heartbeats) is not a miss
    return Check(target, f"{shown:.3f}{unit}", shown <= ceiling)


def targets(found: Found) -> list[Check]:
    """Issue 14's "Must show" lines that concern the comparison, from this run's readings."""
    me_g, me_f = _get(found, "me", GATEHOUSE), _get(found, "me", FASTAPI_USERS)
    ours = me_g.db_cpu_ms if me_g else None
    theirs = me_f.db_cpu_ms if me_f else None
    checks = [
        at_least("current user: Gatehouse req/s >= 1.3 x fastapi-users' (1 worker each)",
                 ratio(me_g and me_g.rps, me_f and me_f.rps), 1.3),
        Check("current user: Gatehouse DB CPU/request <= fastapi-users'",
              f"{num(ours, 3)} ms vs {num(theirs, 3)} ms",
              None if ours is None or theirs is None else ours <= theirs),
    ]
    for workers in (1, 2):
        g, f = _get(found, "login", GATEHOUSE, workers), _get(found, "login", FASTAPI_USERS,
                                                               workers)
        checks.append(at_least(f"login, {workers} worker(s) each: Gatehouse >= 1.2 x "
                               "fastapi-users' req/s", ratio(g and g.rps, f and f.rps), 1.2))
    for workers in (1, 2):
        g = _get(found, "login", GATEHOUSE, workers)
        checks.append(at_most(f"DB commands per login (Gatehouse, {workers} worker(s)) <= 3",
                              g and g.db_commands, 3, ""))
        checks.append(at_most(f"DB CPU per login (Gatehouse, {workers} worker(s)) <= 5 ms",
                              g and g.db_cpu_ms, 5, " ms"))
    refresh, register = _get(found, "refresh", GATEHOUSE), _get(found, "register", GATEHOUSE)
    checks += [
        # Counted one rotation at a time: a window under load is off by the requests in
        # flight at its ends (runs.quiet_rotations); the table shows both.
        at_most("DB commands per refresh rotation (Gatehouse, one at a time) <= 2",
                refresh and (refresh.quiet_commands if refresh.quiet_commands is not None
                             else refresh.db_commands), 2, ""),
        at_most("DB CPU per register (Gatehouse) <= 8 ms", register and register.db_cpu_ms, 8,
                " ms"),
    ]
    return checks
