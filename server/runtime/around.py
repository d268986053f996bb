"""What a run needs around its workers: the embedded database (when mongodb.uri is empty), the
multiprocess metrics directory, and a credential-free description of the database."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator

from server.core.config import Config, with_overrides
from server.runtime.embedded_db import EmbeddedDb

LOG = logging.getLogger("gatehouse.supervisor")


def _log(msg: str, **fields: object) -> None:
    LOG.info(msg, extra={"fields": fields})


@contextlib.contextmanager
def embedded_database(config: Config) -> Iterator[Config]:
    """With mongodb.uri empty, run the embedded database for the duration; yields the config
    the workers use (uri filled in). With a uri set, nothing is started."""
    if config.mongodb.uri:
        yield config
        return
    db = EmbeddedDb(config.mongodb.data_dir)
    try:
        uri = db.start()
    except BaseException:
        db.stop()  # interrupted while it was starting: never leave it running on its own
        raise
    pid = db.process.pid if db.process else None
    _log(
        "embedded database started",
        event="db_started",
        data_dir=config.mongodb.data_dir,
        db_pid=pid,
    )
    try:
        yield with_overrides(config, mongodb={"uri": uri})
    finally:
        db.stop()
        _log("embedded database stopped", event="db_stopped", db_pid=pid)


@contextlib.contextmanager
def metrics_dir() -> Iterator[str]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for this run's workers, removed afterwards."""
    path = tempfile.mkdtemp(prefix="gatehouse-metrics-")
    previous = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous
        shutil.rmtree(path, ignore_errors=True)


def public_db(config: Config, embedded: bool) -> dict[str, object]:
    """What the start line says about the database: never the URI, so never its credentials."""
    if embedded:
        return {"database": "embedded", "db_name": config.mongodb.database}
    hosts = config.mongodb.uri.split("://", 1)[-1].rsplit("@", 1)[-1].split("/", 1)[0]
    return {"database": "external", "db_hosts": hosts, "db_name": config.mongodb.database}
