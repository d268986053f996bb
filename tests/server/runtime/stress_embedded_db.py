"""Stress for the embedded database's stop paths (issue 12 item 3); too slow for the suite.

    .venv/bin/python -m tests.server.runtime.stress_embedded_db stop 50  # our stop(), 50 runs
    .venv/bin/python -m tests.server.runtime.stress_embedded_db parent-kill 50  # kill -9 parent

`stop`: start a database on a fresh data directory, write, stop it at a random moment; a stop
that takes longer than HANG_S or leaves the daemon running counts as a hang.
`parent-kill`: a parent process starts the database and is killed with SIGKILL at a random
moment after the database answers; a daemon still running ORPHAN_S later is an orphan.
Exit status 1 when any run hung or orphaned.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pymongo import MongoClient

from server.runtime.embedded_db import EmbeddedDb

ROOT = Path(__file__).resolve().parents[3]  # the repository (a script: no tests.conftest)
HANG_S = 9.0  # the old stop's SIGTERM waited 10 s before it escalated
ORPHAN_S = 20.0
_PARENT = """
import sys, time
from server.runtime.embedded_db import EmbeddedDb
db = EmbeddedDb(sys.argv[1])
db.start()
print(db.process.pid, flush=True)
time.sleep(120)
"""


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_once(workdir: Path, rng: random.Random) -> tuple[float, bool]:
    """(seconds the stop took, whether the daemon is gone afterwards)."""
    db = EmbeddedDb(str(workdir / "db"))
    db.start()
    assert db.process is not None
    pid = db.process.pid
    with MongoClient(db.uri, serverSelectionTimeoutMS=3000) as client:
        client.stress.items.insert_one({"at": time.time()})
    time.sleep(rng.uniform(0, 0.3))
    started = time.monotonic()
    db.stop()
    return time.monotonic() - started, not _running(pid)


def parent_kill_once(workdir: Path, rng: random.Random) -> tuple[float, bool]:
    """(seconds until the daemon was gone, whether it went) after a kill -9 of its parent."""
    parent = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-c", _PARENT, str(workdir / "db")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    time.sleep(rng.uniform(0, 0.5))
    parent.kill()
    parent.wait()
    parent.stdout.close()
    started = time.monotonic()
    while _running(pid) and time.monotonic() - started < ORPHAN_S:
        time.sleep(0.05)
    gone = not _running(pid)
    if not gone:
        os.kill(pid, signal.SIGKILL)  # an orphan of this run: reported, then cleaned up
    return time.monotonic() - started, gone


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["stop", "parent-kill"])
    parser.add_argument("runs", type=int, nargs="?", default=50)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = random.Random(args.seed)  # noqa: S311 - timing jitter, not secrets
    once = stop_once if args.mode == "stop" else parent_kill_once
    took: list[float] = []
    bad = 0
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="gatehouse-stress-") as workdir:
            seconds, gone = once(Path(workdir), rng)
        took.append(seconds)
        if not gone or seconds > HANG_S:
            bad += 1
            print(f"run {run}: {'still running' if not gone else 'slow'} after {seconds:.1f} s")
    took.sort()
    print(f"{args.mode}: {args.runs} runs, {bad} hung or orphaned; seconds to gone: "
          f"median {took[len(took) // 2]:.3f}, max {took[-1]:.3f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
