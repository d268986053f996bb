"""Helpers for the OAuth-style routes: a registered service client, HTTP Basic credentials,
introspection and revocation calls with form-encoded bodies."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from server.core.clock import utcnow
from tests.handlers._auth import db_of

OAUTH = "/api/v1/oauth"
INTROSPECT = f"{OAUTH}/introspect"
REVOKE = f"{OAUTH}/revoke"
METADATA = "/.well-known/oauth-authorization-server"


@dataclass(frozen=True)
class ServiceClient:
    id: str
    secret: str

    @property
    def auth(self) -> dict[str, str]:
        return basic(self.id, self.secret)


def basic(user: str, password: str) -> dict[str, str]:
    raw = f"{user}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


async def new_client(client: TestClient, name: str = "billing") -> ServiceClient:  # type: ignore[type-arg]
    """A service client registered the way `run.py clients create` registers one."""
    from server.services.clients import create_client

    created = await create_client(db_of(client), name, utcnow())
    return ServiceClient(created.client.id, created.secret)


async def introspect(client: TestClient, token: str,  # type: ignore[type-arg]
                     headers: dict[str, str] | None,
                     **form: str) -> tuple[int, dict[str, Any], Any]:
    """POST token (+ form fields) form-encoded; (status, JSON body, headers)."""
    async with client.post(INTROSPECT, data={"token": token, **form},
                           headers=headers or {}) as resp:
        return resp.status, await resp.json(), resp.headers


async def active(client: TestClient, service: ServiceClient, token: str,  # type: ignore[type-arg]
                 **form: str) -> bool:
    status, body, _ = await introspect(client, token, service.auth, **form)
    assert status == 200, body
    return body["active"] is True


async def revoke(client: TestClient, token: str,  # type: ignore[type-arg]
                 headers: dict[str, str] | None = None, **form: str) -> tuple[int, Any]:
    async with client.post(REVOKE, data={"token": token, **form},
                           headers=headers or {}) as resp:
        return resp.status, await resp.json()
