"""GET /.well-known/oauth-authorization-server (RFC 8414): only what is true, and every listed
endpoint answers."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from server.core.config import Config
from tests.handlers._oauth import INTROSPECT, METADATA, REVOKE

FIELDS = {"issuer", "jwks_uri", "introspection_endpoint",
          "introspection_endpoint_auth_methods_supported", "revocation_endpoint",
          "revocation_endpoint_auth_methods_supported", "response_types_supported",
          "grant_types_supported"}


async def metadata(client: TestClient) -> tuple[Any, dict[str, Any]]:  # type: ignore[type-arg]
    resp = await client.get(METADATA)
    assert resp.status == 200
    assert resp.content_type == "application/json"
    return resp, await resp.json()


class TestMetadata:
    async def test_lists_the_endpoints_and_their_auth_methods(
            self, client: TestClient, config: Config) -> None:  # type: ignore[type-arg]
        resp, body = await metadata(client)
        assert set(body) == FIELDS
        # A non-URL issuer (the dev default): the endpoints are where this request reached.
        base = f"http://{client.server.host}:{client.server.port}"
        assert body["issuer"] == config.jwt.issuer
        assert body["jwks_uri"] == f"{base}/.well-known/jwks.json"
        assert body["introspection_endpoint"] == base + INTROSPECT
        assert body["revocation_endpoint"] == base + REVOKE
        assert body["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic"]
        assert body["revocation_endpoint_auth_methods_supported"] == \
            ["client_secret_basic", "none"]
        # No authorization or token endpoint: say so, since RFC 8414's defaults for these
        # two ("code", authorization_code and implicit) would be false.
        assert body["response_types_supported"] == []
        assert body["grant_types_supported"] == []
        assert "public" in resp.headers["Cache-Control"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"

    async def test_an_https_issuer_is_the_base_of_every_url(
            self, make_client: Any, make_config: Any) -> None:
        client = await make_client(make_config(jwt={"issuer": "https://auth.example.com/"}))
        _, body = await metadata(client)
        assert body["issuer"] == "https://auth.example.com/"
        assert body["jwks_uri"] == "https://auth.example.com/.well-known/jwks.json"
        assert body["introspection_endpoint"] == "https://auth.example.com" + INTROSPECT
        assert body["revocation_endpoint"] == "https://auth.example.com" + REVOKE

    async def test_the_host_header_cannot_move_the_endpoints_of_an_https_issuer(
            self, make_client: Any, make_config: Any) -> None:
        client = await make_client(make_config(jwt={"issuer": "https://auth.example.com"}))
        resp = await client.get(METADATA, headers={"Host": "evil.example"})
        body = await resp.json()
        assert "evil" not in str(body)

    async def test_the_listed_endpoints_exist(self, client: TestClient) -> None:  # type: ignore[type-arg]
        _, body = await metadata(client)
        for key in ("introspection_endpoint", "revocation_endpoint"):
            path = "/" + body[key].split("/", 3)[3]
            resp = await client.post(path, data={"token": "x"},
                                     headers={"Authorization": "Basic Og=="})
            assert resp.status == 401, key  # they exist and want a client
