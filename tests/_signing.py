"""Helpers of the signing-key process tests: services sharing one database, HTTP calls on a
fresh connection each, the token's kid, and `run.py keys` against a service's config."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests._process import Service, get, run_cli, service_pool, write_config

PASSWORD = "Str0ng!Passw0rd"
MakeService = Callable[..., Service]


@pytest.fixture
def make_service(tmp_path: Path, mongo_uri: str) -> Iterator[MakeService]:
    """`make_service(database, workers=2, **sections)`: a run.py service on `database` of the
    session's database server (services given one name share it); all killed and their
    databases dropped afterwards."""
    with service_pool(mongo_uri) as (services, names):
        def build(database: str, workers: int = 2, **sections: Any) -> Service:
            names.add(database)
            config = write_config(tmp_path / f"config-{len(services)}.yaml",
                                  mongodb={"uri": mongo_uri, "database": database},
                                  metrics={"token": ""}, **sections)
            services.append(Service(tmp_path, config, workers))
            services[-1].config_path = config  # type: ignore[attr-defined]
            return services[-1]

        yield build


def fresh_database() -> str:
    return f"gh_keys_{uuid.uuid4().hex[:12]}"


def call(url: str, method: str = "GET", body: Any = None,
         token: str | None = None) -> tuple[int, Any]:
    """One request on a fresh connection (so a multi-worker service spreads them)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def register(service: Service, email: str) -> str:
    person = {"firstName": "Ada", "lastName": "Lovelace", "email": email, "password": PASSWORD}
    status, body = call(f"{service.url}/api/v1/auth/register", "POST", person)
    assert status == 201, body
    return body["data"]["accessToken"]  # type: ignore[no-any-return]


def login(service: Service, email: str) -> str:
    status, body = call(f"{service.url}/api/v1/auth/login", "POST",
                        {"email": email, "password": PASSWORD})
    assert status == 200, body
    return body["data"]["accessToken"]  # type: ignore[no-any-return]


def me(service: Service, token: str) -> int:
    return call(f"{service.url}/api/v1/users/me", token=token)[0]


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]  # type: ignore[no-any-return]


def published(service: Service) -> set[str]:
    status, body = get(f"{service.url}/.well-known/jwks.json")
    assert status == 200
    return {key["kid"] for key in json.loads(body)["keys"]}


def keys_cli(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    """`run.py keys ARGS --config <the service's config>`, which must succeed."""
    done = run_cli("keys", *args, "--config", str(service.config_path))  # type: ignore[attr-defined]
    assert done.returncode == 0, done.stderr
    return done
