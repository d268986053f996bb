"""The aiohttp workarounds, in one place. Each names the aiohttp behaviour it relies on;
tests/server/web/test_hardening.py, tests/middlewares/test_security_headers.py and
tests/handlers/test_header_bytes.py fail if aiohttp changes that behaviour.

1. aiohttp adds `Server: Python/x aiohttp/y` in `StreamResponse._prepare_headers`, after
   middlewares ran; only an `on_response_prepare` hook runs late enough to remove it.
2. aiohttp's HTTP parser answers a malformed request (bad request line, a raw control
   character in a header) itself, before any middleware or signal, through
   `Request._prepare_hook`; `Application._make_request` takes the request class as `_cls`,
   and there is no public hook for parser-level errors. Its text body quotes the rejected
   bytes, so the hook also replaces the body with our error envelope.
3. aiohttp decodes header bytes that are not UTF-8 with `surrogateescape` (http_parser.py and
   _http_parser.pyx); such text cannot be encoded by orjson or BSON. The request class makes
   every header well-formed once, as the request is built, before any layer reads one.
4. aiohttp has no request-head timeout. Its keep-alive timer is armed when a connection opens
   and after every answer, and closes the connection if the protocol is still waiting for a
   complete head when it fires (`RequestHandler._process_keepalive`): set to
   server.header_timeout it is one. A body nobody read is drained after the answer for
   `lingering_time`; bodies the app reads are bounded by the sanitize middleware.
   tests/server/runtime/test_hostile_clients.py fails if either changes.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any, TypedDict

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from server.core.clock import iso, utcnow
from server.core.config import ServerConfig
from server.core.http import REQUEST_ID_HEADER, SECURITY_HEADERS
from server.core.text import well_formed
from server.http.headers import is_stamped, stamp


async def hide_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: remove `Server`. Also stamps responses a handler prepared itself
    (streams), which bypass the security_headers middleware."""
    response.headers.popall("Server", None)
    if not is_stamped(response):
        stamp(request, response)


# aiohttp's own lingering default; a shorter body_timeout shortens it.
_LINGERING_S = 10.0


class ServerOptions(TypedDict):
    keepalive_timeout: float
    lingering_time: float


def server_options(config: ServerConfig) -> ServerOptions:
    """Keyword arguments for web.AppRunner that cut slow clients off (workaround 4)."""
    return {"keepalive_timeout": config.header_timeout.total_seconds(),
            "lingering_time": min(config.body_timeout.total_seconds(), _LINGERING_S)}


def _well_formed_headers(headers: CIMultiDictProxy[str]) -> CIMultiDictProxy[str] | None:
    """A copy with undecodable bytes replaced (U+FFFD), or None when all are fine (the usual
    case, found with one join and one isascii(): under a microsecond)."""
    if "".join(headers.values()).isascii():
        return None
    fixed = [(well_formed(k), well_formed(v)) for k, v in headers.items()]
    if fixed == list(headers.items()):
        return None
    return CIMultiDictProxy(CIMultiDict(fixed))


def _parser_error_body(response: web.StreamResponse, request_id: str) -> None:
    """Replace aiohttp's text body (which quotes the rejected request line or header) with
    the error envelope: a fixed message, never a client byte."""
    if not isinstance(response, web.Response):
        return
    bad_request = response.status == HTTPStatus.BAD_REQUEST
    body = orjson.dumps({"success": False,
                         "error": "Malformed request" if bad_request else response.reason,
                         "code": "BAD_REQUEST" if bad_request else "HTTP_ERROR",
                         "requestId": request_id, "timestamp": iso(utcnow())})
    response.body = body
    response.headers["Content-Type"] = "application/json"
    response.headers["Content-Length"] = str(len(body))


class _HardenedRequest(web.Request):
    """A Request whose headers are well-formed text, and whose answers are hardened even when
    the app never sees them: requests the parser rejected have no match_info, so they are
    stamped here instead."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fixed = _well_formed_headers(self._headers)
        if fixed is not None:
            # `headers` and the message's own copy (read for Host and Forwarded) alike.
            self._headers = fixed
            self._message = self._message._replace(headers=fixed)

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        if self._match_info is not None:
            await super()._prepare_hook(response)
            return
        response.headers.popall("Server", None)
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        request_id = uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        _parser_error_body(response, request_id)


def harden(app: web.Application) -> None:
    """Install the workarounds on `app`."""
    app.on_response_prepare.append(hide_server_header)
    make_request = app._make_request

    def factory(*args: Any, **kwargs: Any) -> web.Request:
        kwargs["_cls"] = _HardenedRequest
        return make_request(*args, **kwargs)

    app._make_request = factory  # type: ignore[method-assign]
