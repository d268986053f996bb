"""The route decorators that document a handler method, and register its serializers.

Handlers declare their inputs and responses with these next to each method; document.py turns
the declarations into the OpenAPI document, and `@success` also compiles the schema that
serialises the body (respond.py), so what is documented is what is sent.

    @docs(tags=["users"], summary="Get one user")
    @bearer_auth(roles=True)
    @success(UserResponseSchema, description="The user")
    @errors(InvalidId, NotFound("User not found"))
    async def get_user(self, request): ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, TypeVar

from aiohttp_apispec import docs as _docs
from aiohttp_apispec import match_info_schema as _match_info_schema
from aiohttp_apispec import querystring_schema as _querystring_schema
from aiohttp_apispec import request_schema as _request_schema
from marshmallow import Schema

from handlers.openapi.serializer import Serializer, serializer_for
from handlers.schemas.envelopes import ErrorSchema
from server.core.errors import (
    AppError,
    FieldError,
    Forbidden,
    InvalidClient,
    InvalidToken,
    TokenExpired,
    TokenMissing,
    ValidationFailed,
)
from server.core.factor_errors import MfaEnrolmentRequired
from server.core.http import AUTH_PREFIX

F = TypeVar("F", bound=Callable[..., Any])

BEARER = "bearerAuth"
CLIENT_BASIC = "clientBasic"
REFRESH_COOKIE = "refreshCookie"
EXAMPLE_REQUEST_ID = "9f1c2d3e4a5b6c7d8e9f0a1b"
EXAMPLE_TIMESTAMP = "2026-01-01T12:00:00.000Z"


def docs(**operation: Any) -> Callable[[F], F]:
    """aiohttp-apispec's `@docs` (summary, description, tags, ...) with a typed signature."""
    return _docs(**operation)  # type: ignore[no-any-return]


def request_schema(schema: Any, **options: Any) -> Callable[[F], F]:
    """aiohttp-apispec's `@request_schema` (JSON body) with a typed signature."""
    return _request_schema(schema, **options)  # type: ignore[no-any-return]


def querystring_schema(schema: Any, **options: Any) -> Callable[[F], F]:
    """aiohttp-apispec's `@querystring_schema` with a typed signature."""
    return _querystring_schema(schema, **options)  # type: ignore[no-any-return]


def match_info_schema(schema: Any, **options: Any) -> Callable[[F], F]:
    """aiohttp-apispec's `@match_info_schema` (path parameters) with a typed signature."""
    return _match_info_schema(schema, **options)  # type: ignore[no-any-return]


def _apispec_of(func: Any) -> dict[str, Any]:
    # The same structure aiohttp-apispec's decorators create, so they stack in any order.
    if not hasattr(func, "__apispec__"):
        func.__apispec__ = {"schemas": [], "responses": {}, "parameters": []}
        func.__schemas__ = []
    return func.__apispec__  # type: ignore[no-any-return]


def error_example(error: AppError | type[AppError]) -> dict[str, Any]:
    """The error body an AppError class or instance produces, with placeholder id and time."""
    text = error.text if isinstance(error, AppError) else error.message
    body: dict[str, Any] = {"success": False, "error": text, "code": error.code,
                            "requestId": EXAMPLE_REQUEST_ID, "timestamp": EXAMPLE_TIMESTAMP}
    found = error.errors if isinstance(error, AppError) else None
    if found:
        body["errors"] = [{"field": e.field, "message": e.message} for e in found]
    if isinstance(error, AppError):
        body.update(error.extra)
    return body


def add_error(responses: dict[str, Any], error: AppError | type[AppError],
              description: str | None = None) -> None:
    """Document `error` under its status in `responses`, beside other examples of that status."""
    status = str(error.status)
    entry = responses.setdefault(status, {
        "schema": ErrorSchema, "examples": {},
        "description": description or HTTPStatus(error.status).phrase})
    entry.setdefault("examples", {})[error.code] = {"value": error_example(error)}
    if error.status in (423, 429):
        entry["headers"] = {"Retry-After": {
            "description": "Seconds until a new attempt can succeed",
            "schema": {"type": "integer"}}}


def errors(*declared: AppError | type[AppError]) -> Callable[[F], F]:
    """Declare the failures a route documents, by AppError class or instance (for its exact
    message): `@errors(BadCredentials, Forbidden("Account is deactivated"))`."""

    def wrapper(func: F) -> F:
        responses = _apispec_of(func)["responses"]
        for error in declared:
            add_error(responses, error)
        return func

    return wrapper


def success(schema: type[Schema] | Schema, status: int = 200, *, description: str,
            example: Mapping[str, Any] | None = None, sets_refresh_cookie: bool = False,
            links: Mapping[str, Any] | None = None) -> Callable[[F], F]:
    """Declare the success response: its envelope schema, an example, the refresh cookie, and
    OpenAPI links to the operations a client calls next with values from this exchange.
    The same schema, compiled, serialises the body `respond`/`render` send with `status`."""
    serializer = serializer_for(schema)

    def wrapper(func: F) -> F:
        serializers_of(func)[status] = serializer
        entry: dict[str, Any] = {"schema": schema, "description": description}
        shown = example if example is not None else getattr(schema, "response_example", None)
        if shown is not None:
            entry["example"] = dict(shown)
        if links:
            entry["links"] = dict(links)
        if sets_refresh_cookie:
            entry["headers"] = {"Set-Cookie": {
                "description": "`refreshToken=<token>; HttpOnly; SameSite=Strict; "
                               f"Path={AUTH_PREFIX}; Max-Age=<jwt.refresh_ttl>` (`Secure` in "
                               "production). The refresh token; rotated on every refresh.",
                "schema": {"type": "string"}}}
        _apispec_of(func)["responses"][str(status)] = entry
        return func

    return wrapper


def serializers_of(func: Any) -> dict[int, Serializer]:
    """status -> the serializer `@success` declared for it on a handler method."""
    if not hasattr(func, "__serializers__"):
        func.__serializers__ = {}
    return func.__serializers__  # type: ignore[no-any-return]


def bearer_auth(*, roles: bool = False) -> Callable[[F], F]:
    """The route needs `Authorization: Bearer <access token>` (401s); with `roles`, only some
    roles may call it (403)."""

    def wrapper(func: F) -> F:
        spec = _apispec_of(func)
        spec["security"] = [{BEARER: []}]
        for error in (TokenMissing, InvalidToken, TokenExpired):
            add_error(spec["responses"], error, "Missing, invalid, expired or revoked token")
        if roles:
            add_error(spec["responses"], Forbidden)
        # security.mfa_required_roles: any signed-in route may answer it (issue 16).
        add_error(spec["responses"], MfaEnrolmentRequired)
        return func

    return wrapper


def client_auth(*, optional: bool = False) -> Callable[[F], F]:
    """The route takes a service client's HTTP Basic credentials (`client_secret_basic`);
    wrong ones are a 401 with `WWW-Authenticate: Basic`. With `optional`, it may be called
    without any (credentials that are sent must still be right)."""

    def wrapper(func: F) -> F:
        spec = _apispec_of(func)
        spec["security"] = [{CLIENT_BASIC: []}, {}] if optional else [{CLIENT_BASIC: []}]
        add_error(spec["responses"], InvalidClient,
                  "Client credentials missing, malformed or wrong (`WWW-Authenticate: Basic`)"
                  if not optional else "Client credentials sent but wrong "
                  "(`WWW-Authenticate: Basic`)")
        spec["responses"]["401"]["headers"] = {"WWW-Authenticate": {
            "description": 'The Basic challenge: `Basic realm="gatehouse", charset="UTF-8"`',
            "schema": {"type": "string"}}}
        return func

    return wrapper


def refresh_cookie(func: F) -> F:
    """The route reads the `refreshToken` cookie (or the same-named JSON field)."""
    _apispec_of(func)["security"] = [{REFRESH_COOKIE: []}, {}]
    return func


VALIDATION_EXAMPLE = ValidationFailed(
    "Please provide a valid email",
    errors=[FieldError("email", "Please provide a valid email"),
            FieldError("password", "password is required")])
