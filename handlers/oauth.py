"""The OAuth-style routes for services around Gatehouse: token introspection (RFC 7662),
revocation (RFC 7009) and the authorization server metadata (RFC 8414)."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from handlers._client_auth import require_client
from handlers.openapi.decorators import client_auth, docs, request_schema, success
from handlers.openapi.respond import render, respond
from handlers.schemas import responses as out
from handlers.schemas.oauth import (
    INTROSPECTION_EXAMPLE,
    METADATA_EXAMPLE,
    IntrospectionSchema,
    MetadataSchema,
    TokenFormSchema,
)
from server.core.http import JWKS_PATH, OAUTH_PREFIX
from server.core.keys import CONFIG, DATA, NOW
from server.db import DB
from server.http.request import AUDIT
from server.services import oauth
from server.signing import KEYRING

REVOKED = "If the token was live, its session has ended"
INTROSPECT_PATH = f"{OAUTH_PREFIX}/introspect"
REVOKE_PATH = f"{OAUTH_PREFIX}/revoke"
# Clients may cache the metadata: it changes only with the configuration.
METADATA_CACHE = "public, max-age=3600"

INTROSPECT_DESCRIPTION = (
    "For services that receive Gatehouse tokens: `active: true` with the token's claims "
    "while it is live (an access token: signature, expiry, its session not ended and its "
    "user active; a refresh token: the session's current one, looked up without rotating "
    "it), else only `{\"active\": false}`: expired, ended by logout, logout-all, password "
    "change or reset, deactivation or revocation, rotated, unknown or malformed. The body "
    "is RFC 7662's, not the success envelope. Spends the credential rate-limit budget.")
REVOKE_DESCRIPTION = (
    "A holder ends the session its refresh token or access token belongs to. Client "
    "authentication is optional: possession of the token is the proof (a browser or app "
    "holding it has no client secret); credentials that are sent must be right. Always 200, "
    "for unknown, rotated and malformed tokens too (RFC 7009 2.2). Spends the credential "
    "rate-limit budget.")


def _base_url(request: web.Request, issuer: str) -> str:
    """Where this service's URLs start: the issuer when it is an http(s) URL (RFC 8414
    wants an https one: the Host header then cannot move them), else this request's own
    origin (a development install whose issuer is a bare name)."""
    parts = urlsplit(issuer)
    if parts.scheme in ("http", "https") and parts.netloc:
        return issuer.rstrip("/")
    return str(request.url.origin())


async def _verifier(request: web.Request) -> oauth.Verifier:
    """What this worker verifies access tokens with now (the ring re-reads its keys at times)."""
    ring = request.app[KEYRING]
    return oauth.Verifier(ring, await ring.current(request.app[DB], request[NOW]))


class OAuthHandler:
    @docs(tags=["oauth"], summary="Introspect a token (RFC 7662)",
          description=INTROSPECT_DESCRIPTION)
    @request_schema(TokenFormSchema, locations=["form"])
    @client_auth()
    @success(IntrospectionSchema, description="Whether the token is live, and its claims",
             example=INTROSPECTION_EXAMPLE)
    async def introspect(self, request: web.Request) -> web.Response:
        await require_client(request)
        app, data = request.app, request[DATA]
        answer = await oauth.introspect(app[DB], app[CONFIG], await _verifier(request),
                                        data["token"], data["token_type_hint"], request[NOW])
        return render(request, answer)

    @docs(tags=["oauth"], summary="Revoke a refresh or access token (RFC 7009)",
          description=REVOKE_DESCRIPTION)
    @request_schema(TokenFormSchema, locations=["form"])
    @client_auth(optional=True)
    @success(out.MessageResponseSchema, description="Done (whatever the token was)",
             example=out.message_example(REVOKED))
    async def revoke(self, request: web.Request) -> web.Response:
        if "Authorization" in request.headers:
            await require_client(request)
        app, data = request.app, request[DATA]
        await oauth.revoke(app[DB], app[CONFIG], await _verifier(request), data["token"],
                           data["token_type_hint"], request[NOW], request[AUDIT])
        return respond(request, message=REVOKED)

    @docs(tags=["oauth"], summary="Authorization server metadata (RFC 8414)",
          description="What Gatehouse offers to services: its issuer, the JWKS and the "
                      "introspection and revocation endpoints. Nothing it does not do.")
    @success(MetadataSchema, description="The metadata document", example=METADATA_EXAMPLE)
    async def metadata(self, request: web.Request) -> web.Response:
        issuer = request.app[CONFIG].jwt.issuer
        base = _base_url(request, issuer)
        response = render(request, {
            "issuer": issuer,
            "jwks_uri": base + JWKS_PATH,
            "introspection_endpoint": base + INTROSPECT_PATH,
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
            "revocation_endpoint": base + REVOKE_PATH,
            # "none": a holder may revoke its own token without client credentials.
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "response_types_supported": [],
            "grant_types_supported": []})
        response.headers["Cache-Control"] = METADATA_CACHE
        return response
