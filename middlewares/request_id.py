"""The request's facts, set once by the outermost layer: its id (a well-formed incoming
X-Request-ID, else a fresh one, echoed always), client IP, clock reading, route policy,
loggable path and audit context. Later layers and handlers read them, never recompute them."""

from __future__ import annotations

import random
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from server.core.http import REQUEST_ID_HEADER
from server.core.keys import CLIENT_IP, CLOCK, LOG_PATH, NOW, REQUEST_ID, ROUTE
from server.http.request import AUDIT, client_ip, log_path, route_policy
from server.observability.audit import Audit
from server.observability.metrics import METRICS

_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def pick_request_id(incoming: str | None) -> str:
    """The incoming id when it matches the contract's pattern, else a fresh one."""
    if incoming and _WELL_FORMED.fullmatch(incoming):
        return incoming
    # 32 hex digits like uuid4().hex. A correlation id, not a secret: the module PRNG (no
    # syscall; os.urandom showed up in profiles of the authenticated path) is enough.
    return f"{random.getrandbits(128):032x}"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    app = request.app
    request_id = pick_request_id(request.headers.get(REQUEST_ID_HEADER))
    ip = client_ip(request)
    request[REQUEST_ID] = request_id
    request[CLIENT_IP] = ip
    request[NOW] = app[CLOCK]()
    policy = request[ROUTE] = route_policy(request)
    request[LOG_PATH] = log_path(request, policy)
    request[AUDIT] = Audit(request_id=request_id, ip=ip, metrics=app.get(METRICS))
    response = await handler(request)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response
