"""`@same_origin_only`: the route sets or uses the refresh cookie, so cross-site calls get 403."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from handlers.openapi.decorators import errors
from server.core.errors import CrossSiteRequest
from server.http.origin import SAME_ORIGIN_ONLY

F = TypeVar("F", bound=Callable[..., Any])


def same_origin_only(func: F) -> F:
    """Mark a handler method for the origin guard middleware (which refuses a foreign
    `Origin` or a cross-site form before the body is read) and document its 403. Only
    unsafe methods (POST, PATCH, ...) are guarded: a GET must not change anything."""
    setattr(func, SAME_ORIGIN_ONLY, True)
    return errors(CrossSiteRequest)(func)
