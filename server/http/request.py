"""Facts about a request that several layers need: route template and policy, the client IP,
the path logs may show, and the audit context. Computed once per request by the outermost
middleware (middlewares/request_id.py), which stores them under their keys."""

from __future__ import annotations

from aiohttp import web

from server.core.http import FORWARDED_FOR_HEADER, RoutePolicy
from server.core.keys import CONFIG, ROUTES
from server.core.net import canonical_ip
from server.observability.audit import Audit

UNMATCHED = "<unmatched>"

# The audit context service flows log with (request id, client IP, metrics).
AUDIT = web.RequestKey("audit", Audit)


def route_template(request: web.Request) -> str:
    """The matched route's template (`/api/v1/users/{id}`), or `<unmatched>` for 404s."""
    info = request.match_info
    if info.http_exception is not None:
        return UNMATCHED
    resource = info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def route_policy(request: web.Request) -> RoutePolicy | None:
    """What the route table says of this request's route (see RouteTable.find)."""
    table = request.app.get(ROUTES)
    if table is None:
        return None
    template = route_template(request)
    return table.find(None if template == UNMATCHED else template, request.path,
                      request.method)


def log_path(request: web.Request, policy: RoutePolicy | None) -> str:
    """The path as every log line shows it: a token-bearing path (matched or not) as its
    route template, so a live reset or verification link never reaches a log."""
    if policy is not None and policy.token_in_path:
        return policy.template
    if "token" in request.match_info:  # a route outside the table with a {token} variable
        return route_template(request)
    return request.path


def client_ip(request: web.Request) -> str:
    """The socket peer, or with server.trust_proxy = N the address N hops back in
    X-Forwarded-For: only hops our own proxies appended are believed, never the client's.
    Every X-Forwarded-For line counts, in order: a proxy may append a line of its own after
    the client's instead of extending it. Canonical text (see server/core/net.py)."""
    peer = request.remote or "unknown"
    hops = request.app[CONFIG].server.trust_proxy
    if not hops:
        return canonical_ip(peer)
    lines = request.headers.getall(FORWARDED_FOR_HEADER, ())
    forwarded = [p.strip() for p in ",".join(lines).split(",")]
    forwarded = [p for p in forwarded if p]
    if not forwarded:
        return canonical_ip(peer)
    # The last entry was added by the nearest proxy; with N trusted hops, the client is the
    # N-th from the right (or the leftmost one if the chain is shorter).
    return canonical_ip(forwarded[-hops] if len(forwarded) >= hops else forwarded[0])
