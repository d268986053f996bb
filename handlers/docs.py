"""API documentation: the OpenAPI 3 document and Swagger UI, served from local files only."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from handlers.openapi.document import build_openapi
from server.core.http import CONTENT_SECURITY_POLICY

OWN_FILES = Path(__file__).with_name("docs_static")
SWAGGER_FILES = Path(str(swagger_ui_path))
# name -> (file, content type): only these are served, so no path ever reaches the disk.
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui.css": (SWAGGER_FILES / "swagger-ui.css", "text/css"),
    "index.css": (SWAGGER_FILES / "index.css", "text/css"),
    "swagger-ui-bundle.js": (SWAGGER_FILES / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui-standalone-preset.js": (SWAGGER_FILES / "swagger-ui-standalone-preset.js",
                                        "text/javascript"),
    "favicon-32x32.png": (SWAGGER_FILES / "favicon-32x32.png", "image/png"),
    "swagger-initializer.js": (OWN_FILES / "swagger-initializer.js", "text/javascript"),
}
PAGE = OWN_FILES / "index.html"
# The service's CSP, less `upgrade-insecure-requests`: served over plain HTTP from any host
# but localhost, that directive makes the browser fetch the page's own scripts over HTTPS,
# which fails, and the page stays blank. The page loads only same-origin files, so the
# directive protects nothing here. Everything else (script-src 'self', no inline script,
# object-src 'none', frame-ancestors 'self') stays.
DOCS_CSP = ";".join(part for part in CONTENT_SECURITY_POLICY.split(";")
                    if part.strip() != "upgrade-insecure-requests")
ASSET_CACHE_CONTROL = "public, max-age=3600"


class DocsHandler:
    """One per app: the document and the files are read once, then served from memory."""

    def __init__(self) -> None:
        self._openapi: bytes | None = None
        self._files: dict[Path, bytes] = {}

    async def _read(self, path: Path) -> bytes:
        if path not in self._files:
            self._files[path] = await asyncio.to_thread(path.read_bytes)
        return self._files[path]

    async def openapi(self, request: web.Request) -> web.Response:
        """The OpenAPI 3 document, built on first request from the handlers' declarations."""
        if self._openapi is None:
            self._openapi = orjson.dumps(build_openapi(request.app))
        return web.Response(body=self._openapi, content_type="application/json")

    async def ui(self, request: web.Request) -> web.Response:
        """Swagger UI's page; its scripts are separate files, so no inline script is needed."""
        return web.Response(body=await self._read(PAGE), content_type="text/html",
                            charset="utf-8", headers={"Content-Security-Policy": DOCS_CSP})

    async def asset(self, request: web.Request) -> web.Response:
        """A Swagger UI file from the swagger-ui-bundle package, or our initializer."""
        found = ASSETS.get(request.match_info["name"])
        if found is None:
            # The error handler turns this into the contract's `Route <path> not found`.
            raise web.HTTPNotFound
        path, content_type = found
        return web.Response(body=await self._read(path), content_type=content_type,
                            headers={"Cache-Control": ASSET_CACHE_CONTROL})
