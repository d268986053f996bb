"""Signing keys across processes (issue 15 items 2 and 3): two workers and a second instance
on one database sign with one key and accept each other's tokens; `run.py keys rotate` is
used by all within the publish-ahead time; `keys revoke` is refused by all within
jwt.key_refresh; `keys list` shows each key's id, algorithm, state and dates."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pymongo import MongoClient

from tests._process import wait_for
from tests._signing import (
    MakeService,
    fresh_database,
    keys_cli,
    kid_of,
    login,
    make_service,  # noqa: F401 - fixture
    me,
    published,
    register,
)

pytestmark = pytest.mark.process
EDDSA = {"algorithm": "EdDSA"}


def stored_keys(mongo_uri: str, database: str) -> list[dict[str, Any]]:
    client: MongoClient[Any] = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)
    try:
        return list(client[database]["signing_keys"].find({}, {"sealedPrivate": 0}))
    finally:
        client.close()


def test_workers_and_instances_share_one_key_rotation_and_revocation(
        make_service: MakeService, mongo_uri: str) -> None:  # noqa: F811
    database = fresh_database()
    a = make_service(database, workers=2, jwt=EDDSA).start()
    b = make_service(database, workers=1, jwt=EDDSA).start()
    # One user per token: a user keeps at most 5 sessions, and older ones would end.
    users = iter(f"user{n}@example.com" for n in range(100))
    token = register(a, next(users))
    tokens = [token] + [register(a, next(users)) for _ in range(6)] \
        + [register(b, next(users)) for _ in range(3)]
    assert len({kid_of(t) for t in tokens}) == 1
    assert len(stored_keys(mongo_uri, database)) == 1
    assert [me(b, t) for t in tokens[:7]] == [200] * 7  # A's tokens on B
    assert [me(a, t) for t in tokens[7:]] == [200] * 3  # B's tokens on A
    old = kid_of(token)

    out = keys_cli(a, "rotate").stdout
    rotated = time.monotonic()  # the command has stored the key (activation: created + 2s)
    new = next(k["_id"] for k in stored_keys(mongo_uri, database) if k["_id"] != old)
    assert new in out
    doc = next(k for k in stored_keys(mongo_uri, database) if k["_id"] == new)
    assert (doc["activatesAt"] - doc["createdAt"]).total_seconds() == pytest.approx(2, abs=0.01)
    # Published by both at once (within key_refresh), before it signs anywhere.
    wait_for(lambda: published(a) == published(b) == {old, new}, 2, "the new key in the JWKS")
    # Signing with it everywhere once publish-ahead (2s) has passed since the rotation.
    time.sleep(max(0.0, rotated + 2.0 + 0.3 - time.monotonic()))
    fresh = [register(a, next(users)) for _ in range(6)] \
        + [register(b, next(users)) for _ in range(3)]
    assert {kid_of(t) for t in fresh} == {new}
    assert [me(a, t) for t in tokens[:2]] == [200, 200]  # the retired key still verifies

    listing = keys_cli(a, "list").stdout
    assert f"{old}  EdDSA  retired" in listing
    assert f"{new}  EdDSA  current" in listing

    keys_cli(b, "revoke", new)
    wait_for(lambda: me(a, fresh[0]) == 401 and me(b, fresh[0]) == 401, 2,
             "both instances to refuse the revoked key's token")
    assert new not in published(a) | published(b)
    replacement = kid_of(login(b, "user0@example.com"))
    assert replacement not in {old, new}
    assert f"{new}  EdDSA  revoked" in keys_cli(a, "list").stdout


def test_racing_first_starts_create_one_key(make_service: MakeService,  # noqa: F811
                                            mongo_uri: str) -> None:
    """Two instances (two workers and one) start at once on an empty database: the first
    start creates the key, exactly once, before any request."""
    database = fresh_database()
    services = [make_service(database, workers=2, jwt=EDDSA),
                make_service(database, workers=1, jwt=EDDSA)]
    for service in services:
        service.launch()
    wait_for(lambda: all(s.ready_worker_pids() and len(s.ready_worker_pids()) == w
                         for s, w in zip(services, (2, 1), strict=True)), 30,
             "every worker to serve")
    keys = wait_for(lambda: stored_keys(mongo_uri, database), 5, "the first key")
    time.sleep(0.5)  # every worker loaded at start (schema ready): a second key would show
    assert len(stored_keys(mongo_uri, database)) == 1
    assert [published(s) for s in services] == [{keys[0]["_id"]}] * 2


def test_hs256_has_no_keys_to_rotate(make_service: MakeService) -> None:  # noqa: F811
    service = make_service(fresh_database(), workers=1)
    from tests._process import run_cli

    done = run_cli("keys", "rotate", "--config", str(service.config_path))  # type: ignore[attr-defined]
    assert done.returncode == 1
    assert "HS256" in done.stdout


def test_a_kid_that_starts_with_a_dash_is_a_kid(make_service: MakeService) -> None:  # noqa: F811
    # A kid is a base64url thumbprint: 1 in 64 begins with "-" (seen in a CI run, where
    # argparse took it for an option and `keys revoke` failed with a usage error).
    service = make_service(fresh_database(), workers=1, jwt={"algorithm": "EdDSA"})
    from tests._process import run_cli

    done = run_cli("keys", "revoke", "-iBUgjay24VA0fXPVrMLGl42f9EHJnRESIY1zfTO_jA",
                   "--config", str(service.config_path))  # type: ignore[attr-defined]
    assert done.returncode == 1, done.stderr
    assert "no key -iBUgjay24VA0fXPVrMLGl42f9EHJnRESIY1zfTO_jA" in done.stdout
