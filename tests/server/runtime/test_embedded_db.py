"""The embedded-database launcher: every stop path ends the daemon without trusting its SIGTERM
handler (which can deadlock, issue 12 item 3), a killed parent leaves no orphan behind, and an
unclean stop loses no acknowledged write.

A daemon started with SIGTERM blocked stands in for one whose handler is deadlocked: the signal
is delivered and never acted on, which is what the orphans of the issue showed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient, WriteConcern

from server.runtime.embedded_db import EmbeddedDb
from tests.conftest import ROOT

_CHILD = """
import signal, sys, time
from server.runtime.embedded_db import EmbeddedDb
if sys.argv[2] == "deaf":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
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


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


def _started_deaf(storage: str) -> EmbeddedDb:
    """A running database that never acts on SIGTERM (the mask survives exec)."""
    db = EmbeddedDb(storage)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        db.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return db


@pytest.fixture
def own_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR for this process and the daemons it starts, so leftovers are visible."""
    path = tmp_path / "tmp"
    path.mkdir()
    monkeypatch.setenv("TMPDIR", str(path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return path


@pytest.mark.process
@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
@pytest.mark.parametrize("hearing", ["hears", "deaf"])
def test_database_stops_when_its_parent_is_killed(tmp_path: Path, hearing: str) -> None:
    parent = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-c", _CHILD, str(tmp_path / "db"), hearing],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    db_pid = 0
    try:
        assert parent.stdout is not None
        db_pid = int(parent.stdout.readline())
        assert _alive(db_pid)
        parent.kill()  # SIGKILL: no cleanup code of ours runs
        parent.wait(10)
        assert _gone_within(db_pid, 20), "embedded database outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        if db_pid and _alive(db_pid):
            os.kill(db_pid, signal.SIGKILL)


@pytest.mark.parametrize("storage", ["memory", "disk"])
def test_stop_does_not_wait_on_the_daemons_signal_handler(tmp_path: Path, storage: str) -> None:
    db = _started_deaf(":memory:" if storage == "memory" else str(tmp_path / "db"))
    assert db.process is not None
    process = db.process
    # Generous: the stop itself takes milliseconds; the old SIGTERM stop took the whole timeout.
    stopper = threading.Thread(target=db.stop, kwargs={"timeout": 120.0}, daemon=True)
    stopper.start()
    stopper.join(15)
    try:
        assert not stopper.is_alive(), "stop() waited on a daemon that does not act on SIGTERM"
        assert process.poll() is not None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_an_in_memory_database_leaves_no_files_behind(own_tmpdir: Path) -> None:
    db = EmbeddedDb(":memory:")
    db.start()
    with MongoClient(db.uri, serverSelectionTimeoutMS=3000) as client:
        client.leftovers.items.insert_one({"_id": 1})
    db.stop()
    assert list(own_tmpdir.iterdir()) == []


def _write(uri: str, docs: int) -> None:
    with MongoClient(uri, serverSelectionTimeoutMS=3000) as client:
        items: Any = client.gatehouse.get_collection(
            "items", write_concern=WriteConcern(w=1, j=True))
        items.insert_many([{"_id": n, "value": f"v{n}"} for n in range(docs)])
        items.update_one({"_id": 0}, {"$set": {"value": "updated"}})
        items.delete_one({"_id": 1})


def _restarted_finds(data_dir: Path) -> dict[int, str]:
    """Start a database on `data_dir` and read back what _write left."""
    db = EmbeddedDb(str(data_dir))
    db.start()
    try:
        with MongoClient(db.uri, serverSelectionTimeoutMS=3000) as client:
            return {d["_id"]: d["value"] for d in client.gatehouse.items.find()}
    finally:
        db.stop()


def _without_journal(data_dir: Path, copy: Path) -> Path:
    """A copy of a stopped database's files minus WiredTiger's journal: what the data files
    alone hold, i.e. what the last checkpoint wrote."""
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("WiredTigerLog.*"))
    return copy


WRITTEN = {n: f"v{n}" for n in range(200) if n != 1} | {0: "updated"}


def test_stop_checkpoints_every_write_into_the_data_files(tmp_path: Path) -> None:
    """Our stop is graceful without the daemon's signal handler: `fsync` over the wire
    checkpoints, so even without the journal the data files hold every write."""
    db = EmbeddedDb(str(tmp_path / "db"))
    db.start()
    _write(db.uri, 200)
    db.stop()
    assert _restarted_finds(_without_journal(tmp_path / "db", tmp_path / "files")) == WRITTEN
    assert _restarted_finds(tmp_path / "db") == WRITTEN


def test_writes_survive_kill_9_through_the_journal(tmp_path: Path) -> None:
    """kill -9 is what a killed master leaves (the kernel's SIGKILL): WiredTiger's journal,
    replayed at the next start, holds every acknowledged write."""
    db = EmbeddedDb(str(tmp_path / "db"))
    db.start()
    assert db.process is not None
    process, db.process = db.process, None
    _write(db.uri, 200)
    process.kill()
    assert process.wait() == -signal.SIGKILL
    db.stop()  # nothing left to stop; removes its scratch directory
    # The control: no checkpoint ran between the writes and the kill, so it is the journal
    # that brings them back.
    assert _restarted_finds(_without_journal(tmp_path / "db", tmp_path / "files")) == {}
    assert _restarted_finds(tmp_path / "db") == WRITTEN
