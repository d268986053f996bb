"""GET /api-docs/openapi.json and the Swagger UI page and files, over HTTP against the real app."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp_apispec import request_schema
from marshmallow import Schema, fields
from openapi_spec_validator import validate

from handlers.openapi.decorators import bearer_auth, docs, error_example, errors, success
from handlers.openapi.document import build_openapi, error_codes
from handlers.schemas.envelopes import ErrorSchema, success_schema
from server.core.errors import (
    BadCredentials,
    Conflict,
    Forbidden,
    TooManyRequests,
    all_error_classes,
)

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
ASSET_REF = re.compile(r'(?:src|href)="(/api-docs/static/[^"]+)"')


async def fetch_spec(client: Any) -> dict[str, Any]:
    response = await client.get("/api-docs/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    return await response.json()  # type: ignore[no-any-return]


class TestOpenApiDocument:
    async def test_is_a_valid_openapi_3_document(self, client: Any) -> None:
        spec = await fetch_spec(client)
        validate(spec)
        assert spec["openapi"].startswith("3.")
        assert spec["info"]["title"] == "Gatehouse API"

    async def test_declares_bearer_and_refresh_cookie_schemes(self, client: Any) -> None:
        schemes = (await fetch_spec(client))["components"]["securitySchemes"]
        assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        assert schemes["refreshCookie"] == {"type": "apiKey", "in": "cookie",
                                            "name": "refreshToken"}

    async def test_lists_every_error_code(self, client: Any) -> None:
        error = (await fetch_spec(client))["components"]["schemas"]["Error"]
        enum = error["properties"]["code"]["enum"]
        assert {cls.code for cls in all_error_classes()} <= set(enum)
        assert {"VALIDATION_ERROR", "INVALID_CREDENTIALS", "ACCOUNT_LOCKED", "TOKEN_EXPIRED",
                "RATE_LIMITED"} <= set(enum)
        assert enum == error_codes()
        # Codes the flows add (services and models subclass the tree) are listed too.
        assert {"EMAIL_TAKEN", "INVALID_REFRESH_TOKEN", "USER_NOT_FOUND"} <= set(enum)
        assert set(error["required"]) == {"success", "error", "code", "requestId", "timestamp"}
        assert error["additionalProperties"] is False

    async def test_documents_the_operations_endpoints(self, client: Any) -> None:
        paths = (await fetch_spec(client))["paths"]
        assert paths["/health"]["get"]["responses"]["200"]["content"]["application/json"]
        assert set(paths["/health/ready"]["get"]["responses"]) >= {"200", "503"}
        assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]

    async def test_every_documented_response_carries_x_request_id(self, client: Any) -> None:
        spec = await fetch_spec(client)
        for operations in spec["paths"].values():
            for operation in operations.values():
                for response in operation["responses"].values():
                    assert "X-Request-ID" in response["headers"]
        login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
        assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
            login["200"]["headers"])
        assert "Retry-After" in login["429"]["headers"]
        assert "Retry-After" in login["423"]["headers"]

    async def test_is_served_with_the_security_headers(self, client: Any) -> None:
        response = await client.get("/api-docs/openapi.json")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" in response.headers
        assert "X-Request-ID" in response.headers


class TestSwaggerUiPage:
    async def test_page_loads_local_files_only_with_no_inline_script(self, client: Any) -> None:
        response = await client.get("/api-docs")
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
        assert "swagger-ui" in page
        assert not INLINE_SCRIPT.search(page)
        assert "http://" not in page
        assert "https://" not in page
        refs = ASSET_REF.findall(page)
        assert "/api-docs/static/swagger-initializer.js" in refs
        for ref in refs:
            asset = await client.get(ref)
            assert asset.status == 200, ref
            assert len(await asset.read()) > 100

    async def test_page_csp_allows_own_scripts_and_no_inline_script(self, client: Any) -> None:
        response = await client.get("/api-docs")
        policy = dict(part.strip().split(" ", 1) for part in
                      response.headers["Content-Security-Policy"].split(";") if " " in part)
        assert policy["script-src"] == "'self'"
        assert policy["script-src-attr"] == "'none'"
        assert policy["default-src"] == "'self'"
        assert policy["object-src"] == "'none'"

    async def test_page_csp_is_the_service_csp_less_upgrade_insecure_requests(
            self, client: Any) -> None:
        page = (await client.get("/api-docs")).headers["Content-Security-Policy"]
        api = (await client.get("/api/v1/users/me")).headers["Content-Security-Policy"]
        assert "upgrade-insecure-requests" in api
        assert "upgrade-insecure-requests" not in page
        assert set(page.split(";")) == set(api.split(";")) - {"upgrade-insecure-requests"}

    @pytest.mark.parametrize(("name", "content_type"), [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui-standalone-preset.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
    ])
    async def test_assets_are_served_compressed(self, client: Any, name: str,
                                                content_type: str) -> None:
        response = await client.get(f"/api-docs/static/{name}",
                                    headers={"Accept-Encoding": "gzip"})
        assert response.status == 200
        assert response.content_type == content_type
        assert response.headers["Content-Encoding"] == "gzip"
        assert "max-age" in response.headers["Cache-Control"]

    async def test_initializer_points_at_our_document_without_online_validator(
            self, client: Any) -> None:
        script = await (await client.get("/api-docs/static/swagger-initializer.js")).text()
        assert "../openapi.json" in script
        assert "validatorUrl: null" in script

    @pytest.mark.parametrize("name", ["nope.js", "..%2F..%2Fserver%2Fconfig.py",
                                      "swagger-ui.js.map", "index.html"])
    async def test_unknown_files_are_404_envelopes(self, client: Any, name: str) -> None:
        response = await client.get(f"/api-docs/static/{name}")
        assert response.status == 404
        body = await response.json()
        assert body["success"] is False
        assert body["code"] == "NOT_FOUND"


class _Body(Schema):
    name = fields.String(required=True)


class TestDeclarationHelpers:
    def test_errors_of_one_status_become_examples_side_by_side(self) -> None:
        @errors(BadCredentials, Forbidden("Account is deactivated"), Conflict)
        async def view(request: web.Request) -> web.Response:
            raise NotImplementedError

        responses = view.__apispec__["responses"]  # type: ignore[attr-defined]
        assert set(responses) == {"401", "403", "409"}
        assert responses["401"]["schema"] is ErrorSchema
        example = responses["403"]["examples"]["FORBIDDEN"]["value"]
        assert example["error"] == "Account is deactivated"
        assert example["success"] is False

    def test_error_example_carries_extra_fields(self) -> None:
        example = error_example(TooManyRequests(extra={"retryAfter": 60}))
        assert example["retryAfter"] == 60
        assert example["code"] == "RATE_LIMITED"

    def test_success_schema_wraps_data_and_message(self) -> None:
        envelope = success_schema("ThingResponseSchema", {"id": fields.String(required=True)},
                                  message="Created")
        loaded = envelope().load({"success": True, "message": "Created", "data": {"id": "1"}})
        assert loaded["data"] == {"id": "1"}

    def test_decorated_route_gets_body_auth_and_shared_failures(self) -> None:
        @docs(tags=["things"], summary="Make a thing")
        @request_schema(_Body)  # type: ignore[untyped-decorator]
        @bearer_auth(roles=True)
        @success(success_schema("MadeSchema"), 201, description="Made",
                 sets_refresh_cookie=True)
        @errors(Conflict)
        async def make(request: web.Request) -> web.Response:
            raise NotImplementedError

        app = web.Application()
        app.router.add_post("/api/v1/things/{kind}", make)
        spec = build_openapi(app)
        validate(spec)
        operation = spec["paths"]["/api/v1/things/{kind}"]["post"]
        assert operation["security"] == [{"bearerAuth": []}]
        assert operation["requestBody"]["required"] is True
        assert operation["parameters"][0]["name"] == "kind"
        assert set(operation["responses"]) == {"201", "400", "401", "403", "408", "409", "413",
                                               "415", "429", "500", "503"}
        assert "Set-Cookie" in operation["responses"]["201"]["headers"]
        bad = operation["responses"]["400"]["content"]["application/json"]["examples"]
        assert {"VALIDATION_ERROR", "INVALID_JSON"} <= set(bad)
        assert spec["components"]["schemas"]["_Body"]["additionalProperties"] is False
