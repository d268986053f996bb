"""One JSON access line per request: who, what, how long; never queries, tokens or credentials."""

from __future__ import annotations

import logging

import orjson
import pytest

from server.observability.logs import JsonFormatter
from tests._app import PREFIX

FIELDS = {"requestId", "method", "path", "route", "status", "durationMs", "ip", "userAgent"}


@pytest.fixture
def access(caplog):
    """The access lines of this test, each as the JSON object the formatter writes."""
    caplog.set_level(logging.INFO, logger="gatehouse.access")
    formatter = JsonFormatter()

    def lines() -> list[dict]:
        return [orjson.loads(formatter.format(r)) for r in caplog.records
                if r.name == "gatehouse.access"]

    return lines


class TestOneLinePerRequest:
    async def test_fields_of_a_line(self, api, access):
        resp = await api.get("/health", headers={"User-Agent": "probe/1.0",
                                                 "X-Request-ID": "log-1"})
        assert resp.status == 200
        [line] = access()
        assert line.keys() >= FIELDS
        assert line["requestId"] == "log-1"
        assert line["method"] == "GET"
        assert line["path"] == "/health"
        assert line["route"] == "/health"
        assert line["status"] == 200
        assert isinstance(line["durationMs"], int | float)
        assert line["durationMs"] >= 0
        assert line["ip"] == "127.0.0.1"
        assert line["userAgent"] == "probe/1.0"
        assert line["logger"] == "gatehouse.access"
        assert line["time"].endswith("Z")

    async def test_one_line_each(self, api, access):
        for path in ("/health", "/nowhere", f"{PREFIX}/boom"):
            await api.get(path)
        lines = access()
        assert [(x["path"], x["status"]) for x in lines] == [
            ("/health", 200), ("/nowhere", 404), (f"{PREFIX}/boom", 500)]

    async def test_error_statuses_are_the_final_ones(self, api, access):
        await api.post(f"{PREFIX}/echo", json={"bogus": 1})
        await api.delete("/health")
        assert [x["status"] for x in access()] == [400, 405]

    async def test_request_id_matches_the_response(self, api, access):
        resp = await api.get("/nowhere")
        assert access()[0]["requestId"] == resp.headers["X-Request-ID"]

    async def test_route_is_the_template(self, api, access):
        await api.get(f"{PREFIX}/verify-email/abc123")
        await api.get("/api/v1/unknown")
        lines = access()
        assert lines[0]["route"] == f"{PREFIX}/verify-email/{{token}}"
        assert lines[1]["route"] == "<unmatched>"

    async def test_proxy_address_only_when_trusted(self, make_config, make_client, access):
        trusting = await make_client(make_config(server={"trust_proxy": 1}), test_routes=True)
        await trusting.get("/health", headers={"X-Forwarded-For": "203.0.113.7"})
        assert access()[-1]["ip"] == "203.0.113.7"

    async def test_forwarded_for_ignored_by_default(self, api, access):
        await api.get("/health", headers={"X-Forwarded-For": "203.0.113.7"})
        assert access()[-1]["ip"] == "127.0.0.1"


class TestNothingSecret:
    async def test_no_query_string(self, api, access, caplog):
        await api.get("/health?token=s3cr3t-q&email=a@b.c")
        [line] = access()
        assert line["path"] == "/health"
        assert "s3cr3t-q" not in caplog.text
        assert "s3cr3t-q" not in orjson.dumps(line).decode()

    async def test_no_authorization_or_cookie(self, api, access):
        await api.get("/health", headers={"Authorization": "Bearer eyJsecret.jwt.value",
                                          "Cookie": "refreshToken=cookie-secret"})
        text = orjson.dumps(access()).decode()
        assert "eyJsecret" not in text
        assert "cookie-secret" not in text

    async def test_token_in_path_is_logged_as_template(self, api, access):
        token = "f" * 64
        resp = await api.get(f"{PREFIX}/verify-email/{token}")
        assert resp.status == 200
        [line] = access()
        assert line["path"] == f"{PREFIX}/verify-email/{{token}}"
        assert token not in orjson.dumps(line).decode()

    async def test_no_body_is_logged(self, api, access):
        await api.post(f"{PREFIX}/echo", json={"name": "n", "password": "Hunter2!pw"})
        assert "Hunter2" not in orjson.dumps(access()).decode()


class TestQuietWhenDisabled:
    async def test_no_line_above_info(self, api, caplog):
        caplog.set_level(logging.WARNING, logger="gatehouse.access")
        await api.get("/health")
        assert not [r for r in caplog.records if r.name == "gatehouse.access"]
