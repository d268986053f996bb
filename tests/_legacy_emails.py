"""A users collection as the code before canonical emails (migration 1) left it, written with
pymongo directly: its collated `email_unique` index and addresses in non-canonical forms."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.collation import Collation
from pymongo.errors import OperationFailure

from models.users import new_user_doc
from server.core.clock import utcnow

SEEDED = {
    "ada": "Ada@Example.com",  # rewritten to ada@example.com
    "bob": "bob@example.com",  # canonical already...
    "bob_wide": "\uff42\uff4f\uff42@example.com",  # ...and this one maps to it: collision
    "eve": "Eve@example.com",  # two non-canonical forms of eve@example.com: collision
    "eve_wide": "\uff45\uff56\uff45@example.com",
    "quoted": '"q"@example.com',  # no canonical form: refused
    "dave": "dave@example.com",  # untouched
}
UNCHANGED = ("bob", "bob_wide", "eve", "eve_wide", "quoted", "dave")


def seed(db: Any, password_hash: str = "not-a-hash") -> dict[str, str]:  # noqa: S107
    """Insert SEEDED (each with `password_hash`) and the old index; the ids by name."""
    ids = {}
    for name, email in SEEDED.items():
        doc = new_user_doc(first_name=name, last_name="Old", email="x@example.com",
                           password_hash=password_hash, now=utcnow())
        doc["email"] = email  # as the old code (or another tool) stored it
        ids[name] = str(db.users.insert_one(doc).inserted_id)
    old = {"name": "email_unique", "unique": True}
    try:
        # The old definition. The embedded database's strength 2 is case folding, under
        # which these pairs coexist (they did, registered through the old code).
        db.users.create_index([("email", ASCENDING)], collation=Collation("en", strength=2),
                              **old)
    except OperationFailure:
        # A real MongoDB (ICU) holds width variants equal at strength 2, so there these
        # pairs can only come from a tool that wrote them before the index existed. What
        # migration 1 needs of the old index is its name.
        db.users.create_index([("email", ASCENDING)], collation=Collation("en", strength=3),
                              **old)
    return ids
