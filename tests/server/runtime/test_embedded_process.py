"""run.py as a real process: the embedded database's lifecycle, and refusing bad configs."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient, WriteConcern

from tests._process import Service, alive, get, run_cli, wait_for, write_config

pytestmark = pytest.mark.process


def _db_port(db_pid: int) -> int:
    """The embedded database's port, from its command line (the master never logs its URI)."""
    argv = Path(f"/proc/{db_pid}/cmdline").read_bytes().split(b"\0")
    return int(argv[argv.index(b"--port") + 1])


def _embedded(db_pid: int) -> MongoClient[Any]:
    return MongoClient(
        f"mongodb://127.0.0.1:{_db_port(db_pid)}/?directConnection=true",
        serverSelectionTimeoutMS=3000,
    )


def _run_once(service: Service) -> int:
    """Start, wait until serving with its database, return the embedded database's pid."""
    service.start(timeout=30)
    (started,) = service.events("db_started")
    (listening,) = service.events("listening")
    assert listening["database"] == "embedded"
    status, body = get(service.url + "/health/ready")
    assert (status, b'"database":"up"' in body) == (200, True)
    return int(started["db_pid"])


@contextlib.contextmanager
def _sigterm_blocked() -> Iterator[None]:
    """Processes started inside never act on SIGTERM (the mask survives fork and exec): a
    stand-in for the embedded database's SIGTERM handler deadlocking (issue 12 item 3)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class TestEmbeddedDatabase:
    def test_data_survives_a_restart_and_the_database_stops_with_the_service(
        self, tmp_path: Path
    ) -> None:
        data_dir = tmp_path / "data" / "db"
        first, second = _two_services_on(tmp_path, data_dir)
        try:
            db_pid = _run_once(first)
            with _embedded(db_pid) as client:
                client.gatehouse.proof.insert_one({"_id": "kept", "value": 42})
            first.signal(signal.SIGTERM)
            assert first.wait() == 0
            assert not alive(db_pid)
            assert any(data_dir.iterdir())

            _restart_finds_the_write(second, signal.SIGINT)
        finally:
            first.close()
            second.close()

    @pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
    def test_kill_9_of_the_master_ends_the_database_and_keeps_its_writes(
        self, tmp_path: Path
    ) -> None:
        data_dir = tmp_path / "data" / "db"
        first, second = _two_services_on(tmp_path, data_dir)
        try:
            with _sigterm_blocked():
                db_pid = _run_once(first)
            with _embedded(db_pid) as client:
                proof = client.gatehouse.get_collection(
                    "proof", write_concern=WriteConcern(w=1, j=True))
                proof.insert_one({"_id": "kept", "value": 42})
            assert first.process is not None
            first.process.kill()  # the master alone, and no cleanup code of ours runs
            first.process.wait(10)
            wait_for(lambda: not alive(db_pid), 20, "the database to end with its master")

            _restart_finds_the_write(second, signal.SIGTERM)
        finally:
            first.close()
            second.close()


def _two_services_on(tmp_path: Path, data_dir: Path) -> tuple[Service, Service]:
    """Two services (run one after the other) on one embedded database directory."""
    config = write_config(
        tmp_path / "embedded.yaml",
        mongodb={"uri": "", "database": "gatehouse", "data_dir": str(data_dir)},
    )
    return Service(tmp_path, config), Service(tmp_path, config)


def _restart_finds_the_write(service: Service, stop: signal.Signals) -> None:
    """Start `service` on the same data, find the proof document, stop it with `stop`."""
    db_pid = _run_once(service)
    with _embedded(db_pid) as client:
        assert client.gatehouse.proof.find_one({"_id": "kept"}) == {"_id": "kept", "value": 42}
    service.signal(stop)
    assert service.wait() == 0
    assert not alive(db_pid)


def _run(tmp_path: Path, *args: str, **sections: Any) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path / "config.yaml", **sections)
    return run_cli("--config", str(config), *args, timeout=20)


class TestBadConfig:
    def test_bad_value_prints_one_line_naming_the_key(self, tmp_path: Path) -> None:
        result = _run(tmp_path, security={"bcrypt_rounds": "many"})
        assert result.returncode != 0
        assert result.stderr.strip().splitlines() == [
            "config error: security.bcrypt_rounds: expected a whole number, got 'many'"
        ]
        assert result.stdout == ""

    def test_bad_flag_is_validated_like_the_file(self, tmp_path: Path) -> None:
        result = _run(tmp_path, "--port", "70000")
        assert result.returncode != 0
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("config error: server.port:")

    def test_production_with_default_secrets_refuses_to_start(self, tmp_path: Path) -> None:
        result = _run(
            tmp_path,
            environment="production",
            jwt={
                "secret": "dev-access-secret-change-me",
                "refresh_secret": "dev-refresh-secret-change-me",
            },
            mongodb={"uri": "mongodb://127.0.0.1:9/"},
        )
        assert result.returncode != 0
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("config error: jwt.secret:")
        assert "change-me" not in line

    def test_production_without_a_database_uri_refuses_to_start(self, tmp_path: Path) -> None:
        secret = "s" * 40
        result = _run(
            tmp_path,
            environment="production",
            jwt={"secret": secret, "refresh_secret": secret + "r"},
            mongodb={"uri": ""},
        )
        assert result.returncode != 0
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("config error: mongodb.uri:")

    def test_unknown_command_is_refused(self) -> None:
        result = run_cli("bogus", timeout=20)
        assert result.returncode == 1
        assert result.stderr == ("unknown command 'bogus': "
                                 "expected one of serve, create-admin, migrate, clients, keys\n")


class TestPortInUse:
    def test_a_taken_port_fails_with_one_line(self, tmp_path: Path, mongo_uri: str) -> None:
        config = write_config(tmp_path / "config.yaml", mongodb={"uri": mongo_uri})
        holder = Service(tmp_path, config, workers=1)
        try:
            holder.start()
            result = run_cli("--config", str(config), "--port", str(holder.port), timeout=20)
            assert result.returncode == 1
            (line,) = result.stderr.strip().splitlines()
            assert line.startswith(f"cannot listen on 127.0.0.1:{holder.port}")
        finally:
            holder.close()
