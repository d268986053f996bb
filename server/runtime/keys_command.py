"""`run.py keys list|rotate|revoke KID`: the operator's view of the signing keys and the two
changes an operator makes to them (workers pick either up within jwt.key_refresh)."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby

from models import signing_keys
from server.core.clock import utcnow
from server.core.config import Config
from server.db import make_client, prepare_schema
from server.runtime.migrate_command import Outcome  # lines to print, ok: migrate's shape
from server.signing.crypto import resolve_kek
from server.signing.schedule import KeyView, plan
from server.signing.store import revoke, rotate


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else "-"


def _line(view: KeyView) -> str:
    key = view.key
    return (f"{key.kid}  {key.alg:<5}  {view.state:<8}  created {_when(key.created_at)}  "
            f"signs from {_when(key.activates_at)}  retired {_when(view.retired_at)}  "
            f"published until {_when(view.published_until or key.revoked_at)}")


async def keys_command(config: Config, action: str, kid: str | None = None) -> Outcome:
    """Run one action against the configured database. Raises PyMongoError when it fails."""
    client = make_client(config.mongodb.uri, config.mongodb.timeout.total_seconds(), 2)
    try:
        db = client[config.mongodb.database]
        await prepare_schema(db)  # the unique index that makes racing key creation safe
        return await _run(db, config, action, kid)
    finally:
        client.close()


async def _run(db: object, config: Config, action: str, kid: str | None) -> Outcome:
    cfg, now = config.jwt, utcnow()
    if action == "list":
        stored = await signing_keys.every_key(db)
        lines = [f"jwt.algorithm {cfg.algorithm}"
                 + (": access tokens are signed with jwt.secret" if cfg.algorithm == "HS256"
                    else "")]
        for _, group in groupby(stored, key=lambda k: k.alg):
            lines += [_line(view) for view in plan(list(group), now, cfg.access_ttl).views]
        return Outcome(tuple(lines) if stored else (*lines, "no stored keys"), True)
    if cfg.algorithm == "HS256":
        return Outcome(("jwt.algorithm is HS256: tokens are signed with jwt.secret, there are "
                        "no stored keys to change (rotate the secret instead)",), False)
    kek = resolve_kek(config)
    if action == "rotate":
        key = await rotate(db, cfg, kek, now)
        return Outcome((f"new key {key.kid} ({key.alg}) published now, signs from "
                        f"{_when(key.activates_at)}",), True)
    revoked = await revoke(db, cfg, kek, kid or "", now)
    if revoked is None:
        return Outcome((f"no key {kid}",), False)
    return Outcome((f"revoked {revoked.kid}: out of the JWKS and its tokens refused by every "
                    f"worker within jwt.key_refresh ({cfg.key_refresh.total_seconds():g}s)",),
                   True)
