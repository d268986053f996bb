"""Service-client authentication for the OAuth-style routes: HTTP Basic (`client_secret_basic`,
RFC 6749 2.3.1) -> the registered Client, or 401 with the Basic challenge."""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import unquote

from aiohttp import web

from models.clients import Client
from server.core.errors import AppError
from server.core.keys import CLIENT_IP, LOG_PATH, REQUEST_ID
from server.db import DB
from server.observability.logs import security_event
from server.services.clients import authenticate_client

_MAX_HEADER = 1024  # far beyond an id and a 256-bit secret; longer is garbage, not decoded


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(client id, secret) of an `Authorization: Basic base64(id:secret)` value, else None.
    Both halves are form-urlencoded before base64 (RFC 6749 2.3.1), so they are decoded."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic" or len(value) > _MAX_HEADER:
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # not base64, or not UTF-8 inside
        return None
    client_id, colon, secret = raw.partition(":")
    if not colon:
        return None
    return unquote(client_id), unquote(secret)


async def require_client(request: web.Request) -> Client:
    """The service client that authenticated this request. Raises InvalidClient (401,
    `WWW-Authenticate: Basic`); each failure is logged as a security event."""
    credentials = basic_credentials(request.headers.get("Authorization"))
    try:
        return await authenticate_client(request.app[DB], credentials)
    except AppError as exc:
        security_event("client_auth_denied", request[REQUEST_ID], logging.WARNING,
                       status=exc.status, code=exc.code, ip=request[CLIENT_IP],
                       path=request[LOG_PATH])
        raise
