"""Run wrk (the Debian package) against a URL and read its report: requests/s, p50, p99."""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


class WrkMissing(RuntimeError):
    """wrk is not installed (./dev bench installs it with apt-get)."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def parse(report: str) -> WrkResult:
    """The numbers of one `wrk --latency` report; raises ValueError on an unexpected report."""
    percentiles = {int(k): float(v) * _UNITS[u] for k, v, u in _PERCENTILE.findall(report)}
    rps, total = _RPS.search(report), _TOTAL.search(report)
    if rps is None or total is None or set(percentiles) != {50, 99}:
        raise ValueError(f"unexpected wrk output:\n{report}")
    non_2xx = _NON_2XX.search(report)
    errors = _SOCKET_ERRORS.search(report)
    return WrkResult(
        requests=int(total[1]),
        seconds=float(total[2]) * _UNITS[total[3]] / 1000,
        rps=float(rps[1]),
        p50_ms=percentiles[50],
        p99_ms=percentiles[99],
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


async def run(url: str, seconds: float, connections: int, script: str | None = None,
              args: tuple[str, ...] = ()) -> WrkResult:
    """One wrk run (a single thread, keep-alive connections); `script` names a bench/*.lua."""
    binary = shutil.which("wrk")
    if binary is None:
        raise WrkMissing("wrk not found: run ./dev bench, or apt-get install -y wrk")
    argv = [binary, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
            "--timeout", "5s"]
    if script:
        argv += ["-s", str(HERE / script)]
    argv.append(url)
    if args:
        argv += ["--", *args]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    return parse(out.decode(errors="replace"))
