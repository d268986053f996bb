"""The aiohttp workarounds, in one place. Each names the aiohttp behaviour it relies on;
tests/server/web/test_hardening.py fails if aiohttp changes that behaviour.

1. aiohttp adds `Server: Python/x aiohttp/y` in `StreamResponse._prepare_headers`, after
   middlewares ran; only an `on_response_prepare` hook runs late enough to remove it.
2. aiohttp's HTTP parser answers a malformed request (bad request line, a raw control
   character in a header) itself, before any middleware or signal, through
   `Request._prepare_hook`; `Application._make_request` takes the request class as `_cls`,
   and there is no public hook for parser-level errors.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from server.core.http import REQUEST_ID_HEADER, SECURITY_HEADERS
from server.http.headers import is_stamped, stamp


async def hide_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: remove `Server`. Also stamps responses a handler prepared itself
    (streams), which bypass the security_headers middleware."""
    response.headers.popall("Server", None)
    if not is_stamped(response):
        stamp(request, response)


class _HardenedRequest(web.Request):
    """A Request whose answers are hardened even when the app never sees them: requests the
    parser rejected have no match_info, so they are stamped here instead."""

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        if self._match_info is not None:
            await super()._prepare_hook(response)
            return
        response.headers.popall("Server", None)
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        response.headers[REQUEST_ID_HEADER] = uuid.uuid4().hex


def harden(app: web.Application) -> None:
    """Install both workarounds on `app`."""
    app.on_response_prepare.append(hide_server_header)
    make_request = app._make_request

    def factory(*args: Any, **kwargs: Any) -> web.Request:
        kwargs["_cls"] = _HardenedRequest
        return make_request(*args, **kwargs)

    app._make_request = factory  # type: ignore[method-assign]
