"""`run.py migrate`: bring the database to this code's schema now, as a starting worker would
(pending migrations, then indexes, under the schema lease), then check every stored email
again and say what an operator must settle."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from models import email_migration
from models import migrations as schema
from server.core.config import Config, LoggingConfig
from server.db import Prepared, make_client, prepare_schema
from server.observability.logs import JsonFormatter, TextFormatter


@dataclass(frozen=True, slots=True)
class Outcome:
    lines: tuple[str, ...]  # for the operator's terminal: ids, never addresses
    ok: bool  # False: accounts need an operator (exit 1)


def _log_to_stderr(config: LoggingConfig) -> None:
    """The migrations' own log lines (the same events a worker logs) go to stderr, in the
    configured format, so stdout carries only the report."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.level.upper())


def report_lines(prepared: Prepared, version: int,
                 report: email_migration.Report) -> tuple[str, ...]:
    applied = ", ".join(prepared.migrations) or "none pending"
    lines = [f"schema version {version}: migrations applied: {applied}; indexes "
             f"{'built' if prepared.indexes_built else 'up to date'}",
             f"emails: {report.rewritten} rewritten to their canonical form, "
             f"{len(report.collisions)} collisions, {len(report.refused)} refused"]
    lines += [f"email collision: users {' '.join(ids)} share one canonical address; all "
              f"left unchanged (change or delete all but one, then run migrate again)"
              for ids in report.collisions]
    lines += [f"email refused: user {user_id} has an address with no canonical form; left "
              f"unchanged (give it a new address, then run migrate again)"
              for user_id in report.refused]
    return tuple(lines)


async def migrate_command(config: Config) -> Outcome:
    """Apply what is pending and run the canonical-email pass again (it is idempotent: it
    rewrites addresses whose collision was settled since, and lists those that remain).
    Raises PyMongoError when the database fails."""
    _log_to_stderr(config.logging)
    client = make_client(config.mongodb.uri, config.mongodb.timeout.total_seconds(), 2)
    try:
        db = client[config.mongodb.database]
        prepared = await prepare_schema(db)
        report = await email_migration.canonicalise(db)
        version = (await schema.read(db)).version
    finally:
        client.close()
    return Outcome(report_lines(prepared, version, report), report.clean)
