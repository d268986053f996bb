"""Rate limiting: counts every /api/ request against shared per-IP, credential and user
budgets; which extra budget a route spends is the route table's word (request[ROUTE])."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from server.core.config import RateLimitConfig
from server.core.errors import AppError, TooManyRequests
from server.core.http import CREDENTIAL_BUDGET
from server.core.keys import CLIENT_IP, CONFIG, LOG_PATH, NOW, REQUEST_ID, RESPONSE_HEADERS, ROUTE
from server.core.net import network_key
from server.db import DB
from server.observability.logs import security_event
from server.observability.metrics import METRICS
from server.ratelimit import LIMITER, Budget, Usage, most_constraining, usage_headers
from server.security import bearer_token, decode_access_token
from server.signing import KEYRING


async def bearer_subject(request: web.Request) -> str | None:
    """The user id of a valid bearer token, else None: the route answers 401 itself (the
    limiter runs before authentication and must not decide it). Verified tokens come from
    the key ring's cache: a client sends the same token for its whole lifetime."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return None
    app, now = request.app, request[NOW]
    ring = app[KEYRING]
    try:
        keys = await ring.current(app[DB], now)
        return decode_access_token(app[CONFIG].jwt, token, now, ring=ring, keys=keys).user_id
    except AppError:
        return None


def _reject(request: web.Request, over: Usage, user: str | None) -> TooManyRequests:
    now = request[NOW]
    retry = over.reset_after(now)
    request.app[METRICS].rate_limited.labels(over.budget.name).inc()
    security_event("rate_limited", request[REQUEST_ID], level=logging.WARNING,
                   budget=over.budget.name, ip=request[CLIENT_IP], userId=user,
                   path=request[LOG_PATH])
    return TooManyRequests(headers={**usage_headers(over, now), "Retry-After": str(retry)},
                           extra={"retryAfter": retry})


def rate_limit_middleware(config: RateLimitConfig) -> Middleware | None:
    """The limiter for this config, or None when rate limiting is off."""
    if not config.enabled:
        return None
    by_ip = Budget("ip", config.max, config.window)
    # The extra budgets a route of the table may name (server/web/routes.py).
    extra = {CREDENTIAL_BUDGET: Budget(CREDENTIAL_BUDGET, config.auth_max, config.auth_window)}
    by_user = Budget("user", config.user_max, config.user_window)

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        # CORS preflights carry no credentials and must not eat the budget of the real call.
        if not request.path.startswith("/api/") or request.method == "OPTIONS":
            return await handler(request)
        # IPv6 clients count by network: one subscriber holds a whole /64 of addresses.
        client = network_key(request[CLIENT_IP], config.ipv6_prefix)
        demands = [(by_ip, client)]
        policy = request[ROUTE]
        if policy is not None and policy.budget is not None:
            demands.append((extra[policy.budget], client))
        user = await bearer_subject(request)
        if user is not None:
            demands.append((by_user, user))
        now = request[NOW]
        usages = await request.app[LIMITER].check(demands, now)
        # Several budgets apply: show the one that will stop the client first.
        shown = most_constraining(usages)
        request[RESPONSE_HEADERS] = {**request.get(RESPONSE_HEADERS, {}),
                                     **usage_headers(shown, now)}
        if shown.exceeded:
            raise _reject(request, shown, user)
        return await handler(request)

    return rate_limit
