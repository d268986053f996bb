"""The OpenAPI 3 document, built from the apispec declarations on the app's handler methods.

aiohttp-apispec's own setup emits Swagger 2.0 and keeps its state under plain string app keys;
this builder reads the same decorators (`@docs`, `@request_schema`, `@querystring_schema`,
`@match_info_schema`, `@response_schema`, and decorators.py's `@success`, `@errors`,
`@bearer_auth`) and emits OpenAPI 3, adding the failures every route shares.
"""

from __future__ import annotations

import copy
import re
import warnings
from http import HTTPStatus
from typing import Any

from aiohttp import hdrs, web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from marshmallow import RAISE, Schema

import server.core.factor_errors  # noqa: F401 - its classes are in all_error_classes() only once loaded
from handlers.openapi.decorators import (
    BEARER,
    CLIENT_BASIC,
    REFRESH_COOKIE,
    VALIDATION_EXAMPLE,
    add_error,
)
from handlers.openapi.hints import field_hints
from handlers.schemas.envelopes import ErrorSchema
from server.core import __version__
from server.core.errors import (
    AppError,
    InvalidJson,
    PayloadTooLarge,
    RequestTimeout,
    ServiceUnavailable,
    TooManyRequests,
    UnsupportedMediaType,
    all_error_classes,
)
from server.core.http import API_PREFIX

OPENAPI_VERSION = "3.0.3"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
_OPERATION_KEYS = ("summary", "description", "tags", "security", "deprecated", "operationId")
_BODY_LOCATIONS = {"json", "form", "body"}
_PARAM_LOCATIONS = {"querystring": "query", "query": "query", "match_info": "path",
                    "path": "path", "headers": "header", "cookies": "cookie"}
# Codes the error handler emits without an AppError class (aiohttp HTTP errors it maps).
_EXTRA_CODES = ("HTTP_ERROR",)
_PATH_KEY = re.compile(r"\{([^}:]+)")

_RATE_LIMIT_HEADERS = {
    name: {"description": f"{text} (when rate limiting is enabled)",
           "schema": {"type": "integer"}}
    for name, text in (("RateLimit-Limit", "Requests allowed per window"),
                       ("RateLimit-Remaining", "Requests left in this window"),
                       ("RateLimit-Reset", "Seconds until the window resets"))}

INFO_DESCRIPTION = (
    "Gatehouse authentication and user-management API. Every error body is the `Error` "
    "envelope; its `code` is one of the values listed there. Every response carries "
    f"`X-Request-ID`; `{API_PREFIX}` responses carry `RateLimit-*` and "
    "`Cache-Control: no-store`."
)


def schema_name(schema: Any) -> str:
    """Component name of a marshmallow schema: its class name without the `Schema` suffix."""
    cls: type[Schema] = resolve_schema_cls(schema)
    name = cls.__name__
    return name.removesuffix("Schema") or name


class _StrictPlugin(MarshmallowPlugin):  # type: ignore[misc]
    """Marks schemas that reject unknown fields (marshmallow's default) with
    `additionalProperties: false`, which apispec 3 leaves out."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        self.converter.add_attribute_function(_custom_field_hints)

    def schema_helper(self, name: str, _: Any, schema: Any = None, **kwargs: Any) -> Any:
        result = super().schema_helper(name, _, schema=schema, **kwargs)
        cls = resolve_schema_cls(schema) if schema is not None else None
        if result is not None and cls is not None and cls().unknown == RAISE:
            result["additionalProperties"] = False
        return result


def _custom_field_hints(converter: Any, field: Any, ret: dict[str, Any],
                       **_: Any) -> dict[str, Any]:
    hints = field_hints(field)
    # A field's own metadata (set where the schema declares it) wins over its class's hints.
    return {k: v for k, v in hints.items() if k not in field.metadata}


def _request_parts(declared: dict[str, Any], path: str) -> tuple[list[Any], dict[str, Any] | None]:
    """The parameters and the request body of an operation."""
    parameters = copy.deepcopy(declared.get("parameters", []))
    body = None
    for entry in declared.get("schemas", []):
        where = entry["options"].get("default_in", "json")
        schema = entry["schema"]
        if where in _BODY_LOCATIONS:
            media: dict[str, Any] = {"schema": schema}
            if entry.get("example"):
                media["example"] = {k: v for k, v in entry["example"].items()
                                    if k != "add_to_refs"}
            required = any(f.required for f in resolve_schema_cls(schema)().fields.values())
            # A form body (the OAuth routes, as their RFCs say) is documented as one.
            body = {"required": required, "content": {FORM if where == "form" else JSON: media}}
        else:
            parameters.append({"in": _PARAM_LOCATIONS[where], "schema": schema})
    if not _declares_path(declared):
        parameters.extend({"in": "path", "name": name, "required": True,
                           "schema": {"type": "string"}} for name in _PATH_KEY.findall(path))
    return parameters, body


def _declares_path(declared: dict[str, Any]) -> bool:
    return any(e["options"].get("default_in") in ("match_info", "path")
               for e in declared.get("schemas", []))


def _response(status: str, entry: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3 response object from a decorator's response entry."""
    if "schema" not in entry:
        return copy.deepcopy(entry)
    media: dict[str, Any] = {"schema": entry["schema"]}
    if entry.get("example") is not None:
        media["example"] = entry["example"]
    if entry.get("examples"):
        media["examples"] = copy.deepcopy(entry["examples"])
    result: dict[str, Any] = {
        "description": entry.get("description") or HTTPStatus(int(status)).phrase,
        "content": {JSON: media},
    }
    for key in ("headers", "links"):
        if entry.get(key):
            result[key] = copy.deepcopy(entry[key])
    return result


def _shared_errors(responses: dict[str, Any], path: str, has_input: bool,
                   has_body: bool) -> None:
    """Failures every API route shares (API.md, "Errors every route shares")."""
    if has_input:
        add_error(responses, VALIDATION_EXAMPLE, "Validation failed: `errors` lists every problem")
    if has_body:
        add_error(responses, InvalidJson)
        add_error(responses, PayloadTooLarge)
        add_error(responses, UnsupportedMediaType)
        add_error(responses, RequestTimeout,
                  "The body did not fully arrive within `server.body_timeout`; the connection "
                  "is closed")
    if path.startswith(API_PREFIX):
        add_error(responses, TooManyRequests(extra={"retryAfter": 900}),
                  "Rate limit exceeded (`Retry-After` says when to retry)")
        add_error(responses, ServiceUnavailable, "Database unreachable")
    add_error(responses, AppError, "Unexpected error")


def _operation(declared: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    operation = {k: copy.deepcopy(declared[k]) for k in _OPERATION_KEYS if k in declared}
    # The handler method's name (`login`, `get_me`): what OpenAPI links refer to.
    operation.setdefault("operationId", name)
    parameters, body = _request_parts(declared, path)
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    entries = copy.deepcopy(declared.get("responses", {}))
    _shared_errors(entries, path, bool(declared.get("schemas")), body is not None)
    operation["responses"] = {str(k): _response(str(k), v) for k, v in sorted(entries.items())}
    return operation


def documented_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, path, handler) of every route of the app, HEAD and CORS preflights aside, and
    a trailing-slash alias (`/users/` beside `/users`) once only."""
    found: list[tuple[str, str, Any]] = []
    for route in app.router.routes():
        if route.method in (hdrs.METH_HEAD, hdrs.METH_OPTIONS, hdrs.METH_ANY):
            continue
        path = route.resource.canonical if route.resource is not None else ""
        found.append((route.method, path, route.handler))
    seen = {(method, path) for method, path, _ in found}
    return [(method, path, handler) for method, path, handler in found
            if not (path.endswith("/") and (method, path.rstrip("/")) in seen)]


def build_openapi(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3 document of every route of `app` that carries apispec declarations."""
    with warnings.catch_warnings():
        # apispec 3 (the range aiohttp-apispec 2.2.3 allows) uses distutils' LooseVersion and
        # marshmallow's deprecated `field.missing`; both still give the right answer.
        warnings.simplefilter("ignore", DeprecationWarning)
        document = _build(app)
    _finish(document)
    return document


def _build(app: web.Application) -> dict[str, Any]:
    spec = APISpec(title="Gatehouse API", version=__version__, openapi_version=OPENAPI_VERSION,
                   plugins=[_StrictPlugin(schema_name_resolver=schema_name)],
                   info={"description": INFO_DESCRIPTION})
    spec.components.security_scheme(BEARER, {"type": "http", "scheme": "bearer",
                                             "bearerFormat": "JWT"})
    spec.components.security_scheme(CLIENT_BASIC, {
        "type": "http", "scheme": "basic",
        "description": "A service client's id and secret (`run.py clients create`)"})
    spec.components.security_scheme(REFRESH_COOKIE, {"type": "apiKey", "in": "cookie",
                                                     "name": "refreshToken"})
    spec.components.schema("Error", schema=ErrorSchema)
    for method, path, handler in documented_routes(app):
        declared = getattr(handler, "__apispec__", None)
        if declared:
            name = getattr(handler, "__name__", f"{method}_{path}")
            spec.path(path=path, operations={method.lower(): _operation(declared, path, name)})
    return spec.to_dict()  # type: ignore[no-any-return]


def error_codes() -> list[str]:
    """Every `code` an error body can carry."""
    return sorted({cls.code for cls in all_error_classes()} | set(_EXTRA_CODES))


def _finish(document: dict[str, Any]) -> None:
    """Post-process what apispec cannot express: the code enum, shared headers, path params."""
    components = document.setdefault("components", {})
    components["schemas"]["Error"]["properties"]["code"]["enum"] = error_codes()
    components["headers"] = {"X-Request-ID": {
        "description": "The request id (echoed when valid, else fresh); equals `requestId`.",
        "schema": {"type": "string"}}, **_RATE_LIMIT_HEADERS}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            body = operation.get("requestBody")
            if body is not None and not body["required"]:
                # An optional body may also be JSON `null`, which the service reads as none.
                media = next(iter(body["content"].values()))
                media["schema"] = {"allOf": [media["schema"]], "nullable": True}
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path":
                    parameter["required"] = True  # OpenAPI requires it of path parameters
            for response in operation["responses"].values():
                headers = response.setdefault("headers", {})
                names = ["X-Request-ID", *(_RATE_LIMIT_HEADERS if path.startswith(API_PREFIX)
                                           else ())]
                for name in names:
                    headers[name] = {"$ref": f"#/components/headers/{name}"}
