"""A wire-protocol proxy for process tests: SIGKILLs the worker that sends a chosen command.

The service's workers reach the database through a unix socket this proxy listens on, so
the kernel tells which process opened each connection (SO_PEERCRED). The proxy forwards
every message unchanged and decodes OP_MSG commands; a test arms a `Trap` (command name,
collection, a predicate on the command and optionally on the reply) and the proxy kills
the sending worker with SIGKILL at that exact point:
  - `after`: the database executed the command; the worker dies before it reads the reply.
  - `before`: the command never reaches the database.
So a crash lands between two given database writes of a flow, every time, with no timing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bson

OP_MSG = 2013
_HEADER = struct.Struct("<iiii")  # messageLength, requestID, responseTo, opCode

Command = Mapping[str, Any]
Predicate = Callable[[Command], bool]


@dataclass
class Trap:
    """Kill whoever sends `name` (or one of several names) on `collection` when `command`
    (and `reply`) match."""

    name: str | tuple[str, ...]
    collection: str
    command: Predicate = lambda _: True
    reply: Predicate | None = None  # only with when="after": the reply must match too
    when: str = "after"
    fired: threading.Event = field(default_factory=threading.Event)
    pid: int | None = None  # the worker it killed
    seen: dict[str, Any] = field(default_factory=dict)  # the command it caught

    def matches(self, command: Command) -> bool:
        name = next(iter(command), None)
        names = (self.name,) if isinstance(self.name, str) else self.name
        return (name in names and command.get(name) == self.collection
                and self.command(command))


def decode_op_msg(body: bytes) -> dict[str, Any]:
    """The command of an OP_MSG: its body document plus any document sequences, by name."""
    flags = struct.unpack_from("<I", body, 0)[0]
    end = len(body) - (4 if flags & 1 else 0)  # checksumPresent
    position, command, sequences = 4, {}, {}
    while position < end:
        kind = body[position]
        position += 1
        size = struct.unpack_from("<i", body, position)[0]
        if kind == 0:
            command = bson.decode(body[position:position + size])
        else:
            chunk = body[position + 4:position + size]
            name, _, docs = chunk.partition(b"\x00")
            sequences[name.decode()] = bson.decode_all(docs)
        position += size
    return {**command, **sequences}


def _read_message(conn: socket.socket) -> tuple[bytes, int, int, int] | None:
    header = _read_exactly(conn, _HEADER.size)
    if header is None:
        return None
    length, request_id, response_to, opcode = _HEADER.unpack(header)
    rest = _read_exactly(conn, length - _HEADER.size)
    if rest is None:
        return None
    return header + rest, request_id, response_to, opcode


def _read_exactly(conn: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        try:
            chunk = conn.recv(left)
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _peer_pid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[0])


class MongoProxy:
    """Listens on a unix socket, forwards to `upstream` (host, port); see the module doc."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._dir = tempfile.mkdtemp(prefix="ghproxy-")  # short: unix paths max ~107 bytes
        self.path = str(Path(self._dir) / "db.sock")
        self._lock = threading.Lock()
        self._trap: Trap | None = None
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []

    @property
    def uri(self) -> str:
        quoted = self.path.replace("/", "%2F")
        return f"mongodb://{quoted}/?directConnection=true"

    def start(self) -> MongoProxy:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self.path)
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def close(self) -> None:
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self._dir)

    def arm(self, trap: Trap) -> Trap:
        with self._lock:
            self._trap = trap
        return trap

    def disarm(self) -> None:
        with self._lock:
            self._trap = None

    def _take(self, command: Command) -> Trap | None:
        with self._lock:
            trap = self._trap
            if trap is None or not trap.matches(command):
                return None
            self._trap = None
            trap.seen = dict(command)
            return trap

    def _rearm(self, trap: Trap) -> None:
        with self._lock:
            if self._trap is None:
                self._trap = trap

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            _Link(self, client, upstream, _peer_pid(client)).start()


class _Link:
    """One proxied connection: two pumps, and the trap this connection is holding, if any."""

    def __init__(self, proxy: MongoProxy, client: socket.socket, upstream: socket.socket,
                 pid: int) -> None:
        self.proxy, self.client, self.upstream, self.pid = proxy, client, upstream, pid
        self.pending: dict[int, Trap] = {}  # requestID -> trap waiting for its reply

    def start(self) -> None:
        threading.Thread(target=self._requests, daemon=True).start()
        threading.Thread(target=self._replies, daemon=True).start()

    def _kill(self, trap: Trap) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        trap.pid = self.pid
        trap.fired.set()
        self._close()

    def _close(self) -> None:
        for conn in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                conn.close()

    def _requests(self) -> None:
        while (message := _read_message(self.client)) is not None:
            raw, request_id, _, opcode = message
            trap = self.proxy._take(decode_op_msg(raw[16:])) if opcode == OP_MSG else None
            if trap is not None and trap.when == "before":
                self._kill(trap)
                return
            if trap is not None:
                self.pending[request_id] = trap
            try:
                self.upstream.sendall(raw)
            except OSError:
                break
        self._close()

    def _replies(self) -> None:
        while (message := _read_message(self.upstream)) is not None:
            raw, _, response_to, _ = message
            trap = self.pending.pop(response_to, None)
            if trap is not None:
                if trap.reply is None or trap.reply(decode_op_msg(raw[16:])):
                    self._kill(trap)
                    return
                self.proxy._rearm(trap)
            try:
                self.client.sendall(raw)
            except OSError:
                break
        self._close()
