"""Rate limiting (issue 5 builds it here): counts every /api/ request against shared budgets."""

from __future__ import annotations

from aiohttp import web

from server.config import RateLimitConfig


def rate_limit_middleware(config: RateLimitConfig) -> web.middleware | None:  # type: ignore[valid-type]
    """The limiter for this config, or None when rate limiting is off."""
    return None
