"""Shared wire shapes: the success and error envelopes, and one-line response declarations.

Handlers declare their responses with these decorators next to aiohttp-apispec's `@docs` and
`@request_schema`; server/docs.py turns the declarations into the OpenAPI document.

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
from marshmallow import Schema, fields

from server.core.errors import (
    AppError,
    FieldError,
    Forbidden,
    InvalidToken,
    TokenExpired,
    TokenMissing,
    ValidationFailed,
)
from server.core.http import AUTH_PREFIX

F = TypeVar("F", bound=Callable[..., Any])

BEARER = "bearerAuth"
REFRESH_COOKIE = "refreshCookie"
EXAMPLE_REQUEST_ID = "9f1c2d3e4a5b6c7d8e9f0a1b"
EXAMPLE_TIMESTAMP = "2026-01-01T12:00:00.000Z"


class FieldErrorSchema(Schema):
    field = fields.String(required=True, metadata={"example": "email"})
    message = fields.String(required=True, metadata={"example": "Please provide a valid email"})


class ErrorSchema(Schema):
    """The error body of every 4xx/5xx (API.md, Conventions)."""

    success = fields.Boolean(required=True, metadata={"enum": [False]})
    error = fields.String(required=True, metadata={"description": "The problem, for people."})
    code = fields.String(required=True, metadata={
        "description": "Stable UPPER_SNAKE_CASE identifier for programs (listed in the enum)."})
    request_id = fields.String(required=True, data_key="requestId",
                               metadata={"description": "Equals the X-Request-ID header."})
    timestamp = fields.String(required=True, metadata={"format": "date-time"})
    errors = fields.List(fields.Nested(FieldErrorSchema), metadata={
        "description": "Validation failures: every problem with its field."})
    retry_after = fields.Integer(data_key="retryAfter", metadata={
        "description": "429 only: seconds until the budget allows another request."})
    stack = fields.String(metadata={"description": "500 in development only."})


class SuccessSchema(Schema):
    """`{"success": true, "message"?: str}`: the success envelope with no data."""

    success = fields.Boolean(required=True, metadata={"enum": [True]})
    message = fields.String(metadata={"example": "Done"})


def success_schema(name: str, data: type[Schema] | Mapping[str, fields.Field] | None = None,
                   *, message: str | None = None,
                   example: Mapping[str, Any] | None = None) -> type[Schema]:
    """A success envelope class named `name` (its OpenAPI component name, less `Schema`),
    with a required `data` object of the given shape, an example `message`, and a whole-body
    `example` that `@success` documents unless the route gives its own."""
    attrs: dict[str, Any] = {"response_example": example}
    if message is not None:
        attrs["message"] = fields.String(required=True, metadata={"example": message})
    if data is not None:
        if not isinstance(data, type):
            data = Schema.from_dict(dict(data), name=f"{name.removesuffix('Schema')}DataSchema")
        attrs["data"] = fields.Nested(data, required=True)
    return type(name, (SuccessSchema,), attrs)


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
    OpenAPI links to the operations a client calls next with values from this exchange."""

    def wrapper(func: F) -> F:
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
        return func

    return wrapper


def bearer_link(operation_id: str, description: str) -> dict[str, Any]:
    """An OpenAPI link that calls `operation_id` with this response's `data.accessToken`."""
    return {"operationId": operation_id, "description": description, "parameters": {
        "header.Authorization": "Bearer {$response.body#/data/accessToken}"}}


def refresh_cookie(func: F) -> F:
    """The route reads the `refreshToken` cookie (or the same-named JSON field)."""
    _apispec_of(func)["security"] = [{REFRESH_COOKIE: []}, {}]
    return func


VALIDATION_EXAMPLE = ValidationFailed(
    "Please provide a valid email",
    errors=[FieldError("email", "Please provide a valid email"),
            FieldError("password", "password is required")])
