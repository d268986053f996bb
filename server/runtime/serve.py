"""`run.py serve`: bind the ports, start the embedded database if configured, and hand over to
the Supervisor until SIGTERM/SIGINT."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

from server.core.config import Config
from server.observability.logs import setup_logging
from server.runtime.around import embedded_database, metrics_dir, public_db
from server.runtime.listeners import Listeners
from server.runtime.supervisor import LOG, Supervisor, worker_count


def _log(msg: str, **fields: object) -> None:
    LOG.info(msg, extra={"fields": fields})


def serve(config: Config, reload_config: Callable[[], Config] | None = None) -> int:
    """Run the service until SIGTERM/SIGINT; returns the exit status. Raises CannotListen when
    a port cannot be bound and EmbeddedDbError when the embedded database does not start."""
    setup_logging(config.logging)
    listeners = Listeners.bind(config)
    embedded = not config.mongodb.uri
    # Until the supervisor's loop takes over, SIGTERM interrupts like Ctrl-C does, so a stop
    # during start-up still runs every cleanup below (the embedded database included).
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with embedded_database(config) as live, metrics_dir() as path:
            supervisor = Supervisor(live, listeners, path, reload_config)
            _log(
                "gatehouse listening",
                event="listening",
                **listeners.addresses(),
                pid=os.getpid(),
                workers=worker_count(live),
                environment=live.environment,
                **public_db(live, embedded),
            )
            return supervisor.run()
    except KeyboardInterrupt:
        _log("stopped during start-up", event="stopped")
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        listeners.close()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt
