"""Where a browser request comes from: the cross-site test of the cookie routes (login CSRF)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

# The attribute `handlers/_origin.py`'s decorator sets on a handler method and the origin
# guard middleware reads from the matched route (as aiohttp-apispec's `__schemas__` is read).
SAME_ORIGIN_ONLY = "__same_origin_only__"

# The bodies an HTML <form> can send; anything else from a browser needs a CORS preflight.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data",
                        "text/plain"})


def cross_site_reason(headers: Mapping[str, str], content_type: str,
                      allowed_origins: Collection[str]) -> str | None:
    """Why a request must be refused as cross-site, or None when it may proceed.

    A present `Origin` must be one of `cors.allowed_origins` (`null`, sent by sandboxed
    frames and privacy redirects, never is). A form body that the browser itself labels
    `Sec-Fetch-Site: cross-site` is refused even from an allowed origin: a browser app
    sends JSON. No `Origin` and no `Sec-Fetch-Site` (curl, mobile apps) is not a browser
    page and proceeds."""
    origin = headers.get("Origin")
    if origin is not None and origin not in allowed_origins and "*" not in allowed_origins:
        return "origin_not_allowed"
    if headers.get("Sec-Fetch-Site") == "cross-site" and content_type in FORM_TYPES:
        return "cross_site_form"
    return None
