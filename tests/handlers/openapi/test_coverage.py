"""Every /api/v1 route is documented (request and response schemas) and API.md's routes are all in
the OpenAPI document; a route added without docs fails here."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from openapi_schema_validator import OAS30Validator

from handlers.openapi.document import build_openapi, documented_routes
from server.core.config import Config
from tests._app import build_app

# API.md, "Authentication" and "Users": the contract's routes.
CONTRACT_ROUTES = {
    ("POST", "/api/v1/auth/register"), ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh-token"), ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/logout-all"), ("GET", "/api/v1/auth/sessions"),
    ("DELETE", "/api/v1/auth/sessions/{id}"), ("GET", "/api/v1/auth/verify-email/{token}"),
    ("POST", "/api/v1/auth/resend-verification"), ("POST", "/api/v1/auth/forgot-password"),
    ("POST", "/api/v1/auth/reset-password/{token}"),
    ("GET", "/api/v1/users/me"), ("PATCH", "/api/v1/users/me"),
    ("POST", "/api/v1/users/me/password"), ("DELETE", "/api/v1/users/me"),
    ("GET", "/api/v1/users"), ("GET", "/api/v1/users/{id}"), ("PATCH", "/api/v1/users/{id}"),
    ("DELETE", "/api/v1/users/{id}"),
}
BODY_METHODS = {"POST", "PATCH", "PUT"}
ERROR_REF = "#/components/schemas/Error"


def _same_path(path: str) -> str:
    # `/api/v1/users/` and `/api/v1/users` are the same route to a client.
    return path.rstrip("/") or "/"


def undocumented(app: web.Application) -> list[str]:
    """Problems with the docs of the app's /api/v1 routes (empty when all are documented)."""
    problems = []
    for method, path, handler in documented_routes(app):
        if not path.startswith("/api/v1"):
            continue
        declared = getattr(handler, "__apispec__", None) or {}
        where = f"{method} {path}"
        if not declared.get("summary"):
            problems.append(f"{where}: no @docs(summary=...)")
        codes = {int(code) for code in declared.get("responses", {})}
        if not any(200 <= code < 300 for code in codes):
            problems.append(f"{where}: no success response declared")
        if method in BODY_METHODS and not declared.get("schemas"):
            problems.append(f"{where}: no request schema (use an empty strict schema)")
    return problems


@pytest.fixture
def app(config: Config) -> web.Application:
    return build_app(config)


@pytest.fixture
def spec(app: web.Application) -> dict[str, Any]:
    return build_openapi(app)


class TestEveryRouteIsDocumented:
    def test_no_api_route_lacks_docs(self, app: web.Application) -> None:
        assert undocumented(app) == []

    def test_the_check_catches_a_route_added_without_docs(self) -> None:
        async def bare(request: web.Request) -> web.Response:
            return web.json_response({})

        app = web.Application()
        app.router.add_post("/api/v1/things", bare)
        assert undocumented(app) == [
            "POST /api/v1/things: no @docs(summary=...)",
            "POST /api/v1/things: no success response declared",
            "POST /api/v1/things: no request schema (use an empty strict schema)",
        ]

    def test_every_api_route_is_in_the_document(self, app: web.Application,
                                                spec: dict[str, Any]) -> None:
        served = {(m, p) for m, p, _ in documented_routes(app) if p.startswith("/api/v1")}
        listed = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
        assert served <= listed

    def test_every_contract_route_is_in_the_document(self, spec: dict[str, Any]) -> None:
        listed = {(m.upper(), _same_path(p)) for p, ops in spec["paths"].items() for m in ops}
        assert {(m, _same_path(p)) for m, p in CONTRACT_ROUTES} - listed == set()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in spec["paths"].items() for m, op in ops.items()
            if p.startswith("/api/v1")]


class TestOperationShapes:
    def test_body_routes_declare_a_strict_json_body(self, spec: dict[str, Any]) -> None:
        schemas = spec["components"]["schemas"]
        for method, path, op in _operations(spec):
            if method not in BODY_METHODS:
                continue
            content = op["requestBody"]["content"]
            # The OAuth routes take form bodies, as RFC 7662 and RFC 7009 say (issue 15).
            media = "application/x-www-form-urlencoded" if path.startswith("/api/v1/oauth/") \
                else "application/json"
            assert set(content) == {media}, (method, path)
            schema = content[media]["schema"]
            if not op["requestBody"]["required"]:  # optional bodies may be `null` too
                assert schema["nullable"] is True
                schema = schema["allOf"][0]
            ref = schema["$ref"]
            body = schemas[ref.rsplit("/", 1)[1]]
            assert body["additionalProperties"] is False, (method, path)

    def test_every_response_has_a_schema_and_errors_use_the_envelope(
            self, spec: dict[str, Any]) -> None:
        for method, path, op in _operations(spec):
            for code, response in op["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                if int(code) >= 400:
                    assert schema == {"$ref": ERROR_REF}, (method, path, code)
                    assert response["content"]["application/json"]["examples"]
                else:
                    assert "$ref" in schema, (method, path, code)

    def test_shared_failures_are_documented_everywhere(self, spec: dict[str, Any]) -> None:
        for method, path, op in _operations(spec):
            assert {"429", "500", "503"} <= set(op["responses"]), (method, path)
            if "requestBody" in op:
                assert {"400", "413", "415"} <= set(op["responses"]), (method, path)

    def test_bearer_routes_document_401(self, spec: dict[str, Any]) -> None:
        secured = [(m, p, op) for m, p, op in _operations(spec)
                   if {"bearerAuth": []} in op.get("security", [])]
        assert len(secured) >= 5
        for method, path, op in secured:
            examples = op["responses"]["401"]["content"]["application/json"]["examples"]
            assert {"TOKEN_MISSING", "INVALID_TOKEN", "TOKEN_EXPIRED"} <= set(examples), \
                (method, path)

    def test_every_response_has_examples_that_match_its_schema(
            self, spec: dict[str, Any]) -> None:
        for method, path, op in _operations(spec):
            for code, response in op["responses"].items():
                media = response["content"]["application/json"]
                examples = [e["value"] for e in media.get("examples", {}).values()]
                examples += [media["example"]] if "example" in media else []
                assert examples, (method, path, code)
                # `#/components/...` references resolve against this root.
                validator = OAS30Validator({**media["schema"],
                                            "components": spec["components"]})
                for example in examples:
                    problems = [e.message for e in validator.iter_errors(example)]
                    assert problems == [], (method, path, code, problems)

    def test_path_parameters_are_declared(self, spec: dict[str, Any]) -> None:
        for method, path, op in _operations(spec):
            if "{" in path:
                names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
                assert names, (method, path)


class TestValidationMatchesTheDocs:
    async def test_unknown_body_fields_are_rejected_on_every_body_route(
            self, client: Any, spec: dict[str, Any]) -> None:
        for method, path, _ in _operations(spec):
            if method not in BODY_METHODS:
                continue
            url = path.replace("{id}", "65f0c2a9e4b0a1b2c3d4e5f6").replace("{token}", "x" * 40)
            response = await client.request(method, url, json={"notAField": 1})
            body = await response.json()
            assert response.status == 400, (method, path, body)
            assert body["code"] == "VALIDATION_ERROR"
            assert {"field": "notAField", "message": "Unknown field: notAField"} in body["errors"]
