"""Schemathesis hooks loaded by the `st` run of tests/handlers/test_fuzz_schemathesis.py.

Requests are signed in as registered users: staff-only operations as an admin (promoted
straight in the test database), everything else as a plain user. A token is reused until it
is refused (401: logout, deactivation, password change by an earlier case); then a fresh user
is registered, so later cases are never starved.
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

import requests
import schemathesis
from pymongo import MongoClient

BASE_URL = os.environ.get("GATEHOUSE_FUZZ_URL", "")
MONGO_URI = os.environ.get("GATEHOUSE_FUZZ_MONGO_URI", "")
DATABASE = os.environ.get("GATEHOUSE_FUZZ_DATABASE", "")
PASSWORD = "Fuzz!Passw0rd"
STAFF_ONLY = re.compile(r"^/api/v1/users(/|/\{id\})?$")
_mongo: MongoClient | None = None  # type: ignore[type-arg]


def _promote(email: str, role: str) -> None:
    global _mongo
    if _mongo is None:
        _mongo = MongoClient(MONGO_URI, serverSelectionTimeoutMS=3000)
    _mongo[DATABASE]["users"].update_one({"email": email}, {"$set": {"role": role}})


def _role_of(case: Any, context: Any) -> str:
    return "admin" if STAFF_ONLY.match(case.operation.path) else "user"


@schemathesis.auth(cache_by_key=_role_of, retry_on=[401])
class RegisteredUser:
    """A registered account per role; its access token goes in `Authorization`."""

    def get(self, case: Any, context: Any) -> str:
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
        case.headers["Authorization"] = f"Bearer {data}"
