"""The embedded MongoDB-compatible database for development and tests.

SecantusDB (GPL-2.0) is kept at arm's length: we never import it, we run its daemon
`secantusd-py` as a child process on a free loopback port and talk to it over the wire.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

DAEMON = "secantusd-py"


class EmbeddedDbError(RuntimeError):
    """The embedded database could not be found or did not come up."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _daemon_path() -> str:
    beside_python = Path(sys.executable).with_name(DAEMON)
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(DAEMON)
    if not found:
        raise EmbeddedDbError(f"{DAEMON} not found: install the dev requirements "
                              "(pip install -r requirements-dev.txt) or set mongodb.uri")
    return found


def wait_until_up(uri: str, timeout: float = 30.0) -> None:
    """Block until a ping succeeds; raises EmbeddedDbError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=500)  # type: ignore[type-arg]
        try:
            client.admin.command("ping")
        except PyMongoError:
            if time.monotonic() > deadline:
                raise EmbeddedDbError(f"embedded database did not answer at {uri}") from None
            time.sleep(0.1)
        else:
            return
        finally:
            client.close()


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the parent dies, so even a kill -9 of
    the master leaves no orphaned database holding the data directory's lock."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedDb:
    """A running `secantusd-py` child; `storage` ':memory:' makes a throwaway one."""

    def __init__(self, storage: str, port: int | None = None) -> None:
        self.storage = storage
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0) -> str:
        """Start the daemon and wait until it answers; returns its URI."""
        if self.storage != ":memory:":
            Path(self.storage).mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [_daemon_path(), "--host", "127.0.0.1", "--port", str(self.port),
             "--storage-path", self.storage, "--log-level", "WARNING"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Own process group: a Ctrl-C at the terminal reaches the master, which then
            # stops the database after the workers, in order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        try:
            wait_until_up(self.uri, timeout)
        except EmbeddedDbError:
            self.stop()
            raise
        return self.uri

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (so WiredTiger checkpoints), then SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
