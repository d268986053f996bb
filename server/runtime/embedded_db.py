"""The embedded MongoDB-compatible database for development and tests: start, stop, die with us.

SecantusDB (GPL-2.0) is kept at arm's length: we never import it, we run its daemon
`secantusd-py` as a child process on a free loopback port and talk to it over the wire.

We never send it SIGTERM. Its handler calls threading.Event.set() from inside a Python signal
handler while the main thread waits on that Event; a signal that lands while the lock is held
(a second SIGTERM during the first one's handler, as a parent-death burst delivers) deadlocks
the daemon for good (issue 12 item 3). So a stop is a checkpoint over the wire (`fsync`) and
then SIGKILL, and the kernel SIGKILLs it when its parent dies. An unclean end loses nothing
acknowledged: WiredTiger's journal is replayed at the next start.
"""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

DAEMON = "secantusd-py"
LOG = logging.getLogger("gatehouse.embedded_db")


class EmbeddedDbError(RuntimeError):
    """The embedded database could not be found or did not come up."""


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default range starts here


def free_port() -> int:
    """A loopback port nothing listens on, chosen below the kernel's ephemeral range: a port
    from inside it (what binding port 0 returns) can be handed to some outgoing connection
    between this check and the caller's bind ("Address already in use", seen in the suite)."""
    high = _ephemeral_low() - 1
    for _ in range(200):
        port = secrets.randbelow(high - 10000) + 10000
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # all taken: any port
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


def _die_with_parent() -> Callable[[], None]:
    """A preexec_fn (Linux) arming PR_SET_PDEATHSIG with SIGKILL: even after a kill -9 of the
    master the database ends and frees its data directory's lock. SIGKILL, not SIGTERM, because
    a parent's death can deliver the signal several times in a burst (once per reparenting),
    which is what deadlocks the daemon's SIGTERM handler. Note that the signal fires when the
    *thread* that started the database exits: start it from a thread that lives as long."""
    if sys.platform != "linux":
        return lambda: None
    # Looked up here, in the parent: the forked child should only make the system call.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        pr_set_pdeathsig = 1
        prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


class EmbeddedDb:
    """A running `secantusd-py` child; `storage` ':memory:' makes a throwaway one."""

    def __init__(self, storage: str, port: int | None = None) -> None:
        self.storage = storage
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._scratch: str | None = None  # an in-memory daemon's TMPDIR, ours to delete
        self._answered = False

    @property
    def uri(self) -> str:
        # retryWrites=false: a retryable write guards against a failover or a dropped
        # connection between the driver and a replica set's primary; a single loopback child
        # has neither (if it dies, the retry fails too). And the daemon pays for it: it
        # prunes its table of retryable-write records (kept 30 min, up to 10,000) by a walk
        # over every record on each write, and sorts the whole table once it is full: 0.4 ms
        # more per write after 3,000 writes, 3 ms more after 9,000 (measured, SecantusDB 0.7).
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true&retryWrites=false"

    def start(self, timeout: float = 30.0) -> str:
        """Start the daemon and wait until it answers; returns its URI."""
        if self.storage != ":memory:":
            Path(self.storage).mkdir(parents=True, exist_ok=True)
        argv = [_daemon_path(), "--host", "127.0.0.1", "--port", str(self.port),
                "--storage-path", self.storage, "--log-level", "WARNING"]
        env = dict(os.environ)
        if self.storage == ":memory:":
            # An in-memory daemon makes a temp directory it removes only on a clean close,
            # which a SIGKILL skips: give it a TMPDIR of ours, deleted after the stop.
            self._scratch = env["TMPDIR"] = tempfile.mkdtemp(prefix="gatehouse-embedded-db-")
        try:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=env,
                # Own process group: a Ctrl-C at the terminal reaches the master, which then
                # stops the database after the workers, in order.
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
            wait_until_up(self.uri, timeout)
        except BaseException:
            self.stop()
            raise
        self._answered = True
        return self.uri

    def stop(self, timeout: float = 10.0) -> None:
        """Checkpoint over the wire (bounded by `timeout`), then SIGKILL; never SIGTERM."""
        process, self.process = self.process, None
        answered, self._answered = self._answered, False
        try:
            if process is not None and process.poll() is None:
                try:
                    if answered and self.storage != ":memory:":
                        self._checkpoint(timeout)
                finally:  # even when a stop signal interrupts the checkpoint
                    process.kill()
            if process is not None:
                process.wait()
        finally:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    def _checkpoint(self, timeout: float) -> None:
        """Flush to the data files so the next start replays little of the journal. A failure
        costs only that replay time, so it is logged (class only, never driver text)."""
        ms = int(timeout * 1000)
        client: MongoClient = MongoClient(  # type: ignore[type-arg]
            self.uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms)
        try:
            client.admin.command("fsync")
        except PyMongoError as exc:
            LOG.warning("embedded database checkpoint failed; the journal covers it",
                        extra={"fields": {"event": "db_checkpoint_failed",
                                          "error": type(exc).__name__}})
        finally:
            client.close()
