"""Schemathesis hooks loaded by the `st` run of tests/handlers/test_fuzz_schemathesis.py.

Requests are signed in as registered users: staff-only operations as an admin (promoted
straight in the test database), the OAuth routes as a registered service client (HTTP Basic),
everything else as a plain user. A token is reused until it
is refused (401: logout, deactivation, password change by an earlier case); then a fresh user
is registered, so later cases are never starved.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import uuid
from typing import Any

import requests
import schemathesis
from pymongo import MongoClient

BASE_URL = os.environ.get("GATEHOUSE_FUZZ_URL", "")
MONGO_URI = os.environ.get("GATEHOUSE_FUZZ_MONGO_URI", "")
DATABASE = os.environ.get("GATEHOUSE_FUZZ_DATABASE", "")
PASSWORD = "Fuzz!Passw0rd"
STAFF_ONLY = re.compile(r"^/api/v1/users(/|/\{id\}(/mfa)?)?$")  # /mfa: the admin reset
CLIENT_ROUTES = "/api/v1/oauth/"
_mongo: MongoClient | None = None  # type: ignore[type-arg]


def _database() -> Any:
    global _mongo
    if _mongo is None:
        _mongo = MongoClient(MONGO_URI, serverSelectionTimeoutMS=3000)
    return _mongo[DATABASE]


def _promote(email: str, role: str) -> None:
    _database()["users"].update_one({"email": email}, {"$set": {"role": role}})


def _service_client() -> str:
    """A service client stored as `run.py clients create` stores one (models/clients.py: a
    SHA-256 of the secret); its Basic credentials."""
    client_id, secret = uuid.uuid4().hex[:24], secrets.token_urlsafe(32)
    _database()["clients"].insert_one({
        "_id": client_id, "name": "fuzz", "createdAt": None,
        "secretHash": hashlib.sha256(secret.encode()).hexdigest()})
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _role_of(case: Any, context: Any) -> str:
    if case.operation.path.startswith(CLIENT_ROUTES):
        return "client"
    return "admin" if STAFF_ONLY.match(case.operation.path) else "user"


@schemathesis.auth(cache_by_key=_role_of, retry_on=[401])
class RegisteredUser:
    """A registered account per role; its access token goes in `Authorization`."""

    def get(self, case: Any, context: Any) -> str:
        if _role_of(case, context) == "client":
            return _service_client()
        email = f"fuzz-{uuid.uuid4().hex}@example.com"
        response = requests.post(f"{BASE_URL}/api/v1/auth/register", timeout=10, json={
            "firstName": "Fuzz", "lastName": "Tester", "email": email, "password": PASSWORD})
        response.raise_for_status()
        role = _role_of(case, context)
        if role != "user":
            _promote(email, role)
        return str(response.json()["data"]["accessToken"])

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = data if data.startswith("Basic ") else f"Bearer {data}"
