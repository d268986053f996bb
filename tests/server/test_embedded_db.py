"""The embedded-database launcher: a killed parent leaves no orphaned database behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_CHILD = """
import sys, time
from server.runtime.embedded_db import EmbeddedDb
db = EmbeddedDb(sys.argv[1])
db.start()
print(db.process.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); read its state.
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if sys.platform == "linux" else "R"
    return state != "Z"


@pytest.mark.process
@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_database_stops_when_its_parent_is_killed(tmp_path: Path) -> None:
    parent = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-c", _CHILD, str(tmp_path / "db")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        db_pid = int(parent.stdout.readline())
        assert _alive(db_pid)
        parent.kill()  # SIGKILL: no cleanup code of ours runs
        parent.wait(10)
        deadline = time.monotonic() + 20
        while _alive(db_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(db_pid), "embedded database outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
