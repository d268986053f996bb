"""GET /.well-known/jwks.json: the public signing keys, for services that verify our tokens."""

from __future__ import annotations

from aiohttp import web

from handlers.openapi.decorators import docs, errors, success
from handlers.openapi.respond import render
from handlers.schemas.jwks import JWKS_DESCRIPTION, JWKS_EXAMPLE, JwksSchema
from server.core.errors import ServiceUnavailable
from server.core.keys import CONFIG, NOW
from server.db import DB, SCHEMA
from server.signing import KEYRING


class JwksHandler:
    @docs(tags=["keys"], summary="Public keys that verify access tokens (RFC 7517 JWK Set)",
          description=JWKS_DESCRIPTION)
    @success(JwksSchema, description="The published keys", example=JWKS_EXAMPLE)
    @errors(ServiceUnavailable)
    async def jwks(self, request: web.Request) -> web.Response:
        app = request.app
        ring, config = app[KEYRING], app[CONFIG]
        # The first read may create the first key: only once the unique index exists.
        if not ring.static and not await app[SCHEMA].wait(config.mongodb.timeout.total_seconds()):
            raise ServiceUnavailable()
        keys = await ring.current(app[DB], request[NOW])
        response = render(request, {"keys": list(keys.jwks)})
        max_age = int(config.jwt.jwks_max_age.total_seconds())
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
        return response
