"""Facts about a request that several layers need: route template and client IP."""

from __future__ import annotations

from aiohttp import web

from server.core.keys import CONFIG

UNMATCHED = "<unmatched>"


def route_template(request: web.Request) -> str:
    """The matched route's template (`/api/v1/users/{id}`), or `<unmatched>` for 404s."""
    info = request.match_info
    if info.http_exception is not None:
        return UNMATCHED
    resource = info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def client_ip(request: web.Request) -> str:
    """The socket peer, or with server.trust_proxy = N the address N hops back in
    X-Forwarded-For: only hops our own proxies appended are believed, never the client's."""
    peer = request.remote or "unknown"
    hops = request.app[CONFIG].server.trust_proxy
    if not hops:
        return peer
    forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",")]
    forwarded = [p for p in forwarded if p]
    if not forwarded:
        return peer
    # The last entry was added by the nearest proxy; with N trusted hops, the client is the
    # N-th from the right (or the leftmost one if the chain is shorter).
    return forwarded[-hops] if len(forwarded) >= hops else forwarded[0]
