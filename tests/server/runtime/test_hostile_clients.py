"""run.py as a process against hostile clients: slow heads and bodies are cut off, a bad header
never costs another request its access line, and text logs cannot be forged."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from tests._process import Service, wait_for, write_config

pytestmark = pytest.mark.process

# Short limits so the tests wait seconds, not the 10 s / 30 s defaults.
TIMEOUTS = {"header_timeout": "1s", "body_timeout": "1s"}
# Well under what the old code held a connection for (about an hour), well over the limits.
CUT_OFF_WITHIN = 4.0


def start_service(tmp: Path, mongo_uri: str, **sections: Any) -> tuple[Service, str]:
    name = f"gh_proc_{uuid.uuid4().hex[:12]}"
    config = write_config(tmp / f"config-{name}.yaml",
                          mongodb={"uri": mongo_uri, "database": name}, **sections)
    service = Service(tmp, config, workers=1)
    try:
        service.start()
    except BaseException:
        service.close()
        raise
    return service, name


def stop_service(service: Service, mongo_uri: str, name: str) -> None:
    service.close()
    client: MongoClient[Any] = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)
    try:
        client.drop_database(name)
    finally:
        client.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Iterator[Service]:
    """One worker, JSON logs, 1 s header and body timeouts."""
    running, name = start_service(tmp_path_factory.mktemp("hostile"), mongo_uri,
                                  server=TIMEOUTS)
    yield running
    stop_service(running, mongo_uri, name)


@pytest.fixture(scope="module")
def text_service(tmp_path_factory: pytest.TempPathFactory, mongo_uri: str) -> Iterator[Service]:
    """One worker writing text logs."""
    running, name = start_service(tmp_path_factory.mktemp("text"), mongo_uri,
                                  logging={"level": "info", "format": "text"})
    yield running
    stop_service(running, mongo_uri, name)


def connect(service: Service) -> socket.socket:
    return socket.create_connection(("127.0.0.1", service.port), timeout=10)


def closed_after(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """Read until the server closes the connection: (seconds it took, bytes received).
    Fails the test if it is still open after `limit` seconds."""
    started, received = time.monotonic(), b""
    sock.settimeout(limit)
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the connection was still open after {limit}s")
    return time.monotonic() - started, received


class TestSlowClients:
    @pytest.mark.parametrize("sent", [
        b"", b"GET /hea", b"GET /health HTTP/1.1\r\nHost: x\r\nUser-Agent: sl",
    ], ids=["nothing", "half-request-line", "half-headers"])
    def test_an_unfinished_head_is_cut_off(self, service: Service, sent: bytes) -> None:
        with connect(service) as sock:
            sock.sendall(sent)
            took, received = closed_after(sock, CUT_OFF_WITHIN * 2)
        assert took < CUT_OFF_WITHIN
        assert received == b""

    def test_a_trickled_head_is_cut_off_too(self, service: Service) -> None:
        # One byte every 200 ms: each arrives well within the limit, the head never does.
        head = b"GET /health HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"s" * 100
        started = time.monotonic()
        with connect(service) as sock:
            try:
                for byte in head:
                    sock.sendall(bytes([byte]))
                    time.sleep(0.2)
                pytest.fail("the whole trickled head was accepted")
            except (BrokenPipeError, ConnectionResetError):
                pass
        assert time.monotonic() - started < CUT_OFF_WITHIN

    def test_an_unfinished_body_is_answered_408_and_cut_off(self, service: Service) -> None:
        with connect(service) as sock:
            sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                         b'{"email": ')
            took, received = closed_after(sock, CUT_OFF_WITHIN * 2)
        assert took < CUT_OFF_WITHIN
        assert received.startswith(b"HTTP/1.1 408 ")
        assert b'"code":"REQUEST_TIMEOUT"' in received

    def test_an_unread_body_is_cut_off(self, service: Service) -> None:
        # /health takes no body: it answers at once, then stops waiting for the rest.
        with connect(service) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                         b"\r\nContent-Length: 100\r\n\r\n{")
            took, received = closed_after(sock, CUT_OFF_WITHIN * 2)
        assert took < CUT_OFF_WITHIN
        assert received.startswith(b"HTTP/1.1 200 ")

    def test_prompt_clients_keep_their_connection(self, service: Service) -> None:
        with connect(service) as sock:
            for _ in range(3):
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
                time.sleep(0.3)  # idle, but within header_timeout


class TestAccessLinesSurviveABadHeader:
    def test_every_line_of_the_batch_is_written(self, service: Service) -> None:
        tag = uuid.uuid4().hex[:8]
        socks = [connect(service) for _ in range(30)]
        try:
            # Everything is connected first, then all requests go out at once, so the worker
            # serves them in the same event-loop turn and writes their lines as one batch.
            for n, sock in enumerate(socks):
                agent = b"bad\xff\xfe" if n == 15 else b"probe"
                sock.sendall(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             b"X-Request-ID: %s-%d\r\nUser-Agent: %s\r\n\r\n"
                             % (tag.encode(), n, agent))
            for sock in socks:
                closed_after(sock, 10)
        finally:
            for sock in socks:
                sock.close()
        wanted = {f"{tag}-{n}" for n in range(30)}

        def logged() -> set[str]:
            return {line.get("requestId") for line in service.events(logger="gatehouse.access")
                    } & wanted

        assert wait_for(lambda: logged() == wanted, 5, "30 access lines") is True
        [bad] = [line for line in service.events(logger="gatehouse.access")
                 if line.get("requestId") == f"{tag}-15"]
        assert bad["userAgent"] == "bad\ufffd\ufffd"


class TestTextLogs:
    @pytest.mark.parametrize("escape", ["%0a", "%0d%0a", "%0d", "%1b%5b2K%0d"])
    def test_a_path_cannot_forge_a_line(self, text_service: Service, escape: str) -> None:
        marker = uuid.uuid4().hex[:8]
        forged = f"2099-01-01T00:00:00.000Z info gatehouse.security {marker}"
        path = f"/x{escape}{forged.replace(' ', '%20')}"
        with connect(text_service) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            closed_after(sock, 10)

        def lines() -> list[str]:
            text = text_service.log_path.read_text(encoding="utf-8", errors="replace")
            # Every line break a reader (or a terminal) would honour.
            return [line for line in text.splitlines() if marker in line]

        [line] = wait_for(lines, 5, "the access line")
        assert line.split(" ", 3)[2] == "gatehouse.access"
        assert "\\x0a" in line or "\\x0d" in line
        assert "\x1b" not in line
