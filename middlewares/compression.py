"""Compress responses of 1 KiB or more (gzip or deflate, as the client accepts)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_response import ContentCoding

MIN_SIZE = 1024
# Offered in this order when the client weighs them equally.
_CODINGS = (ContentCoding.gzip, ContentCoding.deflate)


def _weights(accept_encoding: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.partition(";")
        quality = 1.0
        key, _, value = params.strip().partition("=")
        if key.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if name.strip():
            weights[name.strip()] = quality
    return weights


def pick_coding(accept_encoding: str) -> ContentCoding | None:
    """gzip or deflate if the header accepts one (q > 0, `*` counts), else None.

    aiohttp's own choice is a substring test, which would gzip for `gzip;q=0`."""
    weights = _weights(accept_encoding)
    wildcard = weights.get("*", 0.0)
    best, best_q = None, 0.0
    for coding in _CODINGS:
        quality = weights.get(coding.value, wildcard)
        if quality > best_q:
            best, best_q = coding, quality
    return best


@web.middleware
async def compression_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    body = response.body if isinstance(response, web.Response) else None
    if (
        isinstance(body, bytes | bytearray)
        and len(body) >= MIN_SIZE
        and "Content-Encoding" not in response.headers
    ):
        # The representation depends on Accept-Encoding: caches must key on it.
        response.headers.add("Vary", "Accept-Encoding")
        coding = pick_coding(request.headers.get("Accept-Encoding", ""))
        if coding is not None:
            response.enable_compression(coding)
    return response
