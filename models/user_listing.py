"""Admin listing of the users collection (GET /users): the allowed sorts, the filter, one page.
Its indexes are declared with the collection's others in models/users.py."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pymongo import ASCENDING, DESCENDING

from models.users import COLLECTION, User

# GET /users: the sorts a client may ask for. Each ends in a unique key so that equal values
# still page stably (no user skipped or shown twice); emails are unique on their own.
LISTING_SORTS: dict[str, list[tuple[str, int]]] = {
    "createdAt": [("createdAt", ASCENDING), ("_id", ASCENDING)],
    "-createdAt": [("createdAt", DESCENDING), ("_id", DESCENDING)],
    "email": [("email", ASCENDING)],
    "-email": [("email", DESCENDING)],
    "lastName": [("lastName", ASCENDING), ("firstName", ASCENDING), ("_id", ASCENDING)],
    "-lastName": [("lastName", DESCENDING), ("firstName", DESCENDING), ("_id", DESCENDING)],
    "firstName": [("firstName", ASCENDING), ("lastName", ASCENDING), ("_id", ASCENDING)],
    "-firstName": [("firstName", DESCENDING), ("lastName", DESCENDING), ("_id", DESCENDING)],
}
SEARCH_FIELDS = ("firstName", "lastName", "email")
MAX_SEARCH_TERMS = 5
# The listing never needs secrets: leave hashes and tokens in the database.
_LISTING_PROJECTION = {"password": 0, "emailVerificationToken": 0, "passwordResetToken": 0,
                       "activeSessions": 0}


def listing_filter(*, role: str | None = None, is_active: bool | None = None,
                   search: str | None = None) -> dict[str, Any]:
    """The query of an admin listing. Every whitespace-separated search term must occur
    (case-insensitively, as plain text: re.escape'd, never a client's regex) in the first
    name, last name or email."""
    query: dict[str, Any] = {}
    if role is not None:
        query["role"] = role
    if is_active is not None:
        query["isActive"] = is_active
    terms = (search or "").split()[:MAX_SEARCH_TERMS]
    if terms:
        query["$and"] = [
            {"$or": [{name: {"$regex": re.escape(term), "$options": "i"}}
                     for name in SEARCH_FIELDS]}
            for term in terms]
    return query


async def list_page(db: Any, query: dict[str, Any], sort: str, skip: int,
                    limit: int) -> tuple[list[User], int]:
    """One page of users matching `query` in the LISTING_SORTS order `sort`, and the total
    number of matches. The page and the count run concurrently."""
    order = LISTING_SORTS[sort]
    cursor = db[COLLECTION].find(query, _LISTING_PROJECTION, sort=order, skip=skip,
                                 limit=limit)
    # An unfiltered count reads the collection's metadata instead of scanning every user.
    counting = (db[COLLECTION].count_documents(query) if query
                else db[COLLECTION].estimated_document_count())
    docs, total = await asyncio.gather(cursor.to_list(length=limit), counting)
    return [User.from_doc(doc) for doc in docs], int(total)
