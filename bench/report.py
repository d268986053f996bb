"""The printed result: one Markdown table of scenarios, then the targets the issue sets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    workers: str
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    db_per_request: float | None = None
    non_2xx: int | None = None
    note: str = ""
    cpu_us: float | None = None  # server CPU time per request, all workers and threads


def num(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def table(rows: list[Row]) -> str:
    lines = ["| scenario | workers | req/s | p50 ms | p99 ms | db ops/req | CPU us/req | non-2xx "
             "| note |", "| --- | --: | --: | --: | --: | --: | --: | --: | --- |"]
    for row in rows:
        non_2xx = "n/a" if row.non_2xx is None else str(row.non_2xx)
        rps_digits = 2 if row.rps is not None and row.rps < 100 else 0  # logins: 8.61/s
        lines.append(f"| {row.scenario} | {row.workers} | {num(row.rps, rps_digits)} | "
                     f"{num(row.p50_ms, 2)} | {num(row.p99_ms, 2)} | "
                     f"{num(row.db_per_request, 3)} | {num(row.cpu_us, 0)} | {non_2xx} | "
                     f"{row.note} |")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Check:
    target: str
    measured: str
    passed: bool | None  # None: could not be measured in this run


def checks(items: list[Check]) -> str:
    mark = {True: "PASS", False: "FAIL", None: "n/a"}
    lines = ["| target | measured | result |", "| --- | --- | --- |"]
    lines += [f"| {c.target} | {c.measured} | {mark[c.passed]} |" for c in items]
    return "\n".join(lines)
