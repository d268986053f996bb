"""The only place an exception becomes a response: AppError, HTTP errors, DB outages, bugs."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from pymongo.errors import ConnectionFailure, ExecutionTimeout, ServerSelectionTimeoutError

from server.core.errors import (
    AppError,
    InvalidJson,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from server.core.keys import CONFIG, LOG_PATH, REQUEST_ID
from server.core.text import printable
from server.http.responses import envelope
from server.observability.logs import APP, format_exception

# AutoReconnect, NetworkTimeout and NotPrimaryError are ConnectionFailure subclasses.
DATABASE_DOWN = (ConnectionFailure, ServerSelectionTimeoutError, ExecutionTimeout)
_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}
# How much of the client's path a 404 message repeats (escaped: it is the client's text).
PATH_ECHO_LIMIT = 200


def from_app_error(request: web.Request, exc: AppError) -> web.Response:
    return envelope(request, exc.status, exc.text, exc.code, errors=exc.errors,
                    extra=exc.extra, headers=exc.headers)


def from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    status = exc.status
    headers: dict[str, str] = {}
    if status == 404:
        path = printable(request.path, PATH_ECHO_LIMIT)
        return from_app_error(request, NotFound(f"Route {path} not found"))
    if status == 405:
        headers["Allow"] = exc.headers.get("Allow", "")
        return from_app_error(request, MethodNotAllowed(f"Method {request.method} not allowed",
                                                        headers=headers))
    if status == 413:
        return from_app_error(request, PayloadTooLarge())
    if status == 400 and "json" in (exc.text or "").lower():
        return from_app_error(request, InvalidJson())
    code = _HTTP_CODES.get(status, "HTTP_ERROR")
    return envelope(request, status, exc.reason, code)


def from_unexpected(request: web.Request, exc: BaseException) -> web.Response:
    APP.error("unhandled error", exc_info=exc,
              extra={"fields": {"requestId": request.get(REQUEST_ID),
                                "path": request.get(LOG_PATH)}})
    extra = None
    if request.app[CONFIG].is_development:
        extra = {"stack": format_exception(exc)}
    return envelope(request, 500, "Internal Server Error", "INTERNAL_ERROR", extra=extra)


@web.middleware
async def error_handler_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except AppError as exc:
        return from_app_error(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and 2xx raised as exceptions pass through
            raise
        return from_http_exception(request, exc)
    except DATABASE_DOWN:
        APP.warning("database unavailable",
                    extra={"fields": {"requestId": request.get(REQUEST_ID)}})
        return from_app_error(request, ServiceUnavailable())
    except Exception as exc:  # the last line of defence: anything else is a 500
        return from_unexpected(request, exc)
    if (response.status >= 400 and not response.prepared
            and response.content_type != "application/json"):
        # A plain-text error an inner layer returned (e.g. aiohttp-cors): wrap it.
        return envelope(request, response.status, response.reason or "Error",
                        _HTTP_CODES.get(response.status, "HTTP_ERROR"))
    return response
