"""What one comparison run reads: counter snapshots, their differences, the rounds combined.

Every per-request figure divides by the requests the service itself served in a window taken
while wrk's load is steady (after a ramp-up, before wrk stops): the work of requests that are
still in flight when wrk hangs up (a login waits behind up to seven others) is then neither
counted nor missing, for both services alike. uvicorn does not log an answer to a client that
has gone, where Gatehouse counts it, so counting to the end would not be equal.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.wrk import WrkResult


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Cumulative counters of one service and its own database daemon at one moment."""

    at: float  # monotonic seconds
    served: float  # requests the service has answered
    server_cpu_s: float  # utime + stime of its master and workers
    db_cpu_s: float  # utime + stime of its database daemon (all threads)
    db_commands: float  # commands on its database's collections (`top`)
    own_commands: float | None = None  # Gatehouse's own driver counter, as a cross-check


@dataclass(frozen=True, slots=True)
class Window:
    """What happened between two snapshots."""

    seconds: float
    served: float
    server_cpu_s: float
    db_cpu_s: float
    db_commands: float
    own_commands: float | None = None

    @classmethod
    def between(cls, first: Snapshot, last: Snapshot) -> Window:
        own = (None if first.own_commands is None or last.own_commands is None
               else last.own_commands - first.own_commands)
        return cls(last.at - first.at, last.served - first.served,
                   last.server_cpu_s - first.server_cpu_s, last.db_cpu_s - first.db_cpu_s,
                   last.db_commands - first.db_commands, own)


@dataclass(frozen=True, slots=True)
class Reading:
    """One scenario on one service, its rounds combined: rates and per-request costs over the
    windows summed, latency the median of the rounds' wrk percentiles."""

    rps: float | None
    p50_ms: float | None
    p99_ms: float | None
    cpu_us: float | None  # server CPU per request
    db_cpu_ms: float | None  # database daemon CPU per request
    db_commands: float | None  # database commands per request
    non_2xx: int
    rounds_rps: tuple[float, ...]
    own_commands: float | None = None  # per request, by the service's own counter
    # Per request, one request at a time with nothing else running (bench/against/runs.py,
    # quiet_rotations): exact, where a window under load is off by the commands of the
    # requests in flight at its two ends.
    quiet_commands: float | None = None

    @classmethod
    def combine(cls, rounds: list[tuple[Window, WrkResult]]) -> Reading:
        served = sum(w.served for w, _ in rounds)
        seconds = sum(w.seconds for w, _ in rounds)

        def per_request(total: float | None, scale: float) -> float | None:
            return total / served * scale if served and total is not None else None

        owns = [w.own_commands for w, _ in rounds if w.own_commands is not None]
        own = sum(owns) if owns and len(owns) == len(rounds) else None

        return cls(
            rps=served / seconds if seconds else None,
            p50_ms=statistics.median(r.p50_ms for _, r in rounds) if rounds else None,
            p99_ms=statistics.median(r.p99_ms for _, r in rounds) if rounds else None,
            cpu_us=per_request(sum(w.server_cpu_s for w, _ in rounds), 1e6),
            db_cpu_ms=per_request(sum(w.db_cpu_s for w, _ in rounds), 1e3),
            db_commands=per_request(sum(w.db_commands for w, _ in rounds), 1.0),
            non_2xx=sum(r.non_2xx + r.socket_errors for _, r in rounds),
            rounds_rps=tuple(w.served / w.seconds for w, _ in rounds if w.seconds),
            own_commands=per_request(own, 1.0),
        )


def top_commands(reply: dict[str, Any], database: str) -> float:
    """Commands run on `database`'s collections, from a `top` reply. Per namespace, unlike
    serverStatus opcounters, so the drivers' heartbeats and our own probes are not in it."""
    prefix = database + "."
    return float(sum(entry["total"]["count"] for ns, entry in reply["totals"].items()
                     if ns.startswith(prefix) and isinstance(entry, dict)))


class AccessLog:
    """Requests uvicorn has answered: the lines of its access log (its stdout), read on."""

    MARK = b' HTTP/1.1" '  # INFO:     127.0.0.1:4242 - "GET /health HTTP/1.1" 200 OK

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._lines = 0

    def count(self) -> int:
        try:
            with self.path.open("rb") as log:
                log.seek(self._offset)
                chunk = log.read()
        except FileNotFoundError:
            return self._lines
        whole = chunk.rfind(b"\n") + 1  # a line still being written is counted next time
        self._lines += chunk[:whole].count(self.MARK)
        self._offset += whole
        return self._lines


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours is not None and theirs else None
