"""The machine a run came from, and the bcrypt ceiling on login throughput it implies."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

import bcrypt


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}, "
            f"Python {sys.version.split()[0]}; load average at start {load}")


def bcrypt_check_seconds(rounds: int = 12, samples: int = 5) -> float:
    """Median time of one bcrypt check at `rounds` on one core of this machine."""
    hashed = bcrypt.hashpw(b"bench-password", bcrypt.gensalt(rounds))
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        bcrypt.checkpw(b"bench-password", hashed)
        times.append(time.perf_counter() - started)
    return statistics.median(times)
