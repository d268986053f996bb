"""The listening sockets the master binds once and every worker inherits: API and metrics."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from server.core.config import Config


class CannotListen(OSError):
    """A port could not be bound (in use, no permission); `address` says which one."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror)
        self.address = f"{host}:{port}"


def bind_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """One listening socket that every worker shares; raises CannotListen."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise CannotListen(host, port, exc) from None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise CannotListen(host, port, exc) from None
    return sock


@dataclass(frozen=True)
class Listeners:
    """The API socket and, unless metrics.port is 0, the metrics socket. Handed to each
    spawned worker whole: multiprocessing passes each socket as an inherited descriptor, so
    every worker accepts on the same two ports and the kernel spreads connections."""

    api: socket.socket
    metrics: socket.socket | None

    @classmethod
    def bind(cls, config: Config) -> Listeners:
        """Bind both ports; raises CannotListen naming the one that failed (none left open)."""
        api = bind_socket(config.server.host, config.server.port)
        if not config.metrics.port:
            return cls(api, None)
        try:
            return cls(api, bind_socket(config.metrics.host, config.metrics.port))
        except CannotListen:
            api.close()
            raise

    def addresses(self) -> dict[str, str]:
        """For the start line: `address` (API) and `metrics_address` when there is one."""
        found = {"address": _url(self.api)}
        if self.metrics is not None:
            found["metrics_address"] = _url(self.metrics) + "/metrics"
        return found

    def close(self) -> None:
        """The master's copies; workers keep theirs until they stop."""
        self.api.close()
        if self.metrics is not None:
            self.metrics.close()


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
