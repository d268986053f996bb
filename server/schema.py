"""The schema step: every collection's indexes and the data migrations, applied once per
database across every process, under a lease (models/migrations.py keeps its state)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import bson
from pymongo.errors import PyMongoError

from models import (
    clients,
    email_migration,
    login_failures,
    mfa_challenges,
    outbox,
    rate_limits,
    sessions,
    signing_keys,
    users,
    webauthn_challenges,
)
from models import migrations as schema
from models.migrations import LeaseLost, Migration
from server.core.clock import utcnow

# Every collection's model, each with `COLLECTION`, `INDEXES` (IndexModels: the schema step
# digests them to know when to rebuild) and `async def ensure_indexes(db)`: one explicit
# list, so whatever a caller imported, every collection gets its indexes.
MODELS = (users, sessions, outbox, rate_limits, login_failures, clients, mfa_challenges,
          signing_keys, webauthn_challenges)

# Data changes, in version order; each runs once per database, before the indexes are built
# (so a migration may drop an index whose replacement has the same keys). Never renumber or
# remove one that has shipped.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "canonical emails", email_migration.migrate),
)

# A holder renews its lease every third of this while it works; a crashed holder blocks the
# others for at most this long. Lease times come from each host's clock: skew must stay
# well under it.
LEASE_TTL = timedelta(seconds=30)
_LEASE_POLL_S = 0.5  # how often a process waiting for another's lease looks again


async def ensure_indexes(db: Any) -> None:
    """Create every collection's indexes; idempotent."""
    for model in MODELS:
        await model.ensure_indexes(db)


def index_fingerprint() -> str:
    """A digest of every model's index definitions: it changes exactly when one does."""
    specs = [{"collection": model.COLLECTION, "indexes": [i.document for i in model.INDEXES]}
             for model in MODELS]
    # BSON keeps key order, which matters for a compound index (JSON with sort_keys would not).
    return hashlib.sha256(bson.encode({"models": specs})).hexdigest()[:16]


def lease_holder() -> str:
    """A name for this process in the schema lease: unique, and telling an operator where."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class Prepared:
    """What one prepare_schema call changed (nothing when another process had done it)."""

    migrations: tuple[str, ...] = ()
    indexes_built: bool = False


async def prepare_schema(db: Any, migrations: tuple[Migration, ...] = MIGRATIONS, *,
                         holder: str | None = None, ttl: timedelta = LEASE_TTL) -> Prepared:
    """Bring the database to this code's schema, once across every process: pending
    migrations, then indexes, under the schema lease. While another process holds the lease,
    waits and looks again. Raises PyMongoError when the database fails, LeaseLost when the
    lease was taken over, and whatever a migration raises."""
    holder = holder or lease_holder()
    target = index_fingerprint()
    state = await _lease_unless_done(db, holder, migrations, target, ttl)
    if state is None:
        return Prepared()
    try:
        async with _heartbeat(db, holder, ttl):
            prepared = await _apply(db, state, holder, migrations, target)
    except PyMongoError:
        raise  # the database is gone: we take our lease back on retry, or it lapses
    except Exception:
        with contextlib.suppress(PyMongoError):
            await schema.release(db, holder)
        raise
    await schema.release(db, holder)
    return prepared


async def _lease_unless_done(db: Any, holder: str, migrations: tuple[Migration, ...],
                             target: str, ttl: timedelta) -> schema.SchemaState | None:
    """The state under our lease, or None once the database is at this code's schema."""
    latest = max((m.version for m in migrations), default=0)
    while True:
        state = await schema.read(db)
        if state.version >= latest and state.indexes == target:
            return None
        held = await schema.acquire(db, holder, utcnow(), ttl)
        if held is not None:
            return held
        await asyncio.sleep(_LEASE_POLL_S)


async def _apply(db: Any, state: schema.SchemaState, holder: str,
                 migrations: tuple[Migration, ...], target: str) -> Prepared:
    done = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version > state.version:
            await migration.apply(db)
            await schema.record_migration(db, holder, migration, utcnow())
            done.append(migration.name)
    built = state.indexes != target
    if built:
        await ensure_indexes(db)
        await schema.record_indexes(db, holder, target, utcnow())
    return Prepared(tuple(done), built)


@contextlib.asynccontextmanager
async def _heartbeat(db: Any, holder: str, ttl: timedelta) -> AsyncIterator[None]:
    """Renew the lease while a long migration runs, so it never lapses under a live holder."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(ttl.total_seconds() / 3)
            with contextlib.suppress(PyMongoError):  # a blip: the next beat tries again
                await schema.renew(db, holder, utcnow(), ttl)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, LeaseLost):
            await task
