"""Responses of 1 KiB or more are gzip/deflate-compressed when the client accepts it."""

from __future__ import annotations

import gzip
import zlib

import orjson
import pytest

from middlewares.compression import pick_coding
from tests._app import PREFIX
from tests.conftest import METRICS_AUTH

BIG = f"{PREFIX}/big?size=4096"


@pytest.fixture
async def raw(make_client, config):
    """A client that leaves bodies as sent on the wire."""
    return await make_client(config, test_routes=True, auto_decompress=False)


def payload_of(resp_body: bytes, encoding: str | None) -> dict:
    if encoding == "gzip":
        return orjson.loads(gzip.decompress(resp_body))  # type: ignore[no-any-return]
    if encoding == "deflate":
        return orjson.loads(zlib.decompress(resp_body))  # type: ignore[no-any-return]
    return orjson.loads(resp_body)  # type: ignore[no-any-return]


class TestCompressedWhenAccepted:
    @pytest.mark.parametrize(("accept", "expected"), [
        ("gzip", "gzip"), ("deflate", "deflate"), ("gzip, deflate, br", "gzip"),
        ("deflate, gzip", "gzip"), ("GZIP", "gzip"), ("gzip;q=0.5, deflate;q=0.9", "deflate"),
        ("*", "gzip"), ("br, *;q=0.1", "gzip"),
    ])
    async def test_big_response_is_compressed(self, raw, accept, expected):
        resp = await raw.get(BIG, headers={"Accept-Encoding": accept})
        assert resp.status == 200
        assert resp.headers["Content-Encoding"] == expected
        wire = await resp.read()
        assert len(wire) < 4096
        assert payload_of(wire, expected)["data"]["blob"] == "x" * 4096
        assert "Accept-Encoding" in resp.headers.getall("Vary")

    async def test_error_bodies_are_compressed_too(self, raw):
        # Forty unknown fields: a 400 listing each of them is well over 1 KiB.
        unknown = {f"unknown_field_{n:02}": 1 for n in range(40)}
        resp = await raw.post(f"{PREFIX}/echo", json={"name": "n", **unknown},
                              headers={"Accept-Encoding": "gzip"})
        assert resp.status == 400
        assert resp.headers["Content-Encoding"] == "gzip"
        body = payload_of(await resp.read(), "gzip")
        assert len(body["errors"]) == 40
        assert resp.headers["X-Request-ID"] == body["requestId"]

    async def test_metrics_text_is_compressed(self, raw):
        for _ in range(3):
            await raw.get("/health")
        resp = await raw.get("/metrics", headers={**METRICS_AUTH, "Accept-Encoding": "gzip"})
        text = gzip.decompress(await resp.read())
        assert len(text) >= 1024
        assert resp.headers["Content-Encoding"] == "gzip"

    async def test_default_client_reads_it_transparently(self, api):
        resp = await api.get(BIG)  # aiohttp sends Accept-Encoding: gzip, deflate
        assert resp.headers["Content-Encoding"] in ("gzip", "deflate")
        assert (await resp.json())["data"]["blob"] == "x" * 4096


class TestNotCompressed:
    @pytest.mark.parametrize("accept", ["identity", "br", "gzip;q=0", "gzip;q=0, deflate;q=0",
                                        "*;q=0", ""])
    async def test_when_the_client_does_not_accept_it(self, raw, accept):
        resp = await raw.get(BIG, headers={"Accept-Encoding": accept})
        assert resp.status == 200
        assert "Content-Encoding" not in resp.headers
        assert payload_of(await resp.read(), None)["data"]["blob"] == "x" * 4096

    async def test_without_accept_encoding_header(self, raw):
        resp = await raw.get(BIG, skip_auto_headers=["Accept-Encoding"])
        assert "Accept-Encoding" not in resp.request_info.headers
        assert "Content-Encoding" not in resp.headers
        assert int(resp.headers["Content-Length"]) > 4096

    async def test_small_responses_are_left_alone(self, raw):
        resp = await raw.get(f"{PREFIX}/big?size=10", headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in resp.headers
        assert "Accept-Encoding" not in ",".join(resp.headers.getall("Vary", ()))
        assert payload_of(await resp.read(), None)["data"]["blob"] == "x" * 10

    async def test_threshold_is_one_kib(self, raw):
        # The envelope adds 35 bytes around the blob: find the sizes on each side of 1024.
        overhead = len(orjson.dumps({"success": True, "data": {"blob": ""}}))
        below = await raw.get(f"{PREFIX}/big?size={1023 - overhead}",
                              headers={"Accept-Encoding": "gzip"})
        at = await raw.get(f"{PREFIX}/big?size={1024 - overhead}",
                           headers={"Accept-Encoding": "gzip"})
        assert int(below.headers["Content-Length"]) == 1023
        assert "Content-Encoding" not in below.headers
        assert at.headers["Content-Encoding"] == "gzip"


class TestPickCoding:
    @pytest.mark.parametrize(("header", "coding"), [
        ("gzip;q=bogus, deflate", "deflate"), (" gzip ; q=1 ", "gzip"), (",,", None),
    ])
    def test_odd_headers(self, header, coding):
        picked = pick_coding(header)
        assert (picked.value if picked else None) == coding
