"""Input cleaning over HTTP: operator keys never reach a query, `<` `>` escaped, last value wins."""

from __future__ import annotations

import pytest

from server.db import DB
from tests._app import PREFIX


async def stored(api, body) -> dict:
    """POST to the echo route, which stores the validated body and reads it back from Mongo."""
    resp = await api.post(f"{PREFIX}/echo", json=body)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]["stored"]  # type: ignore[no-any-return]


class TestOperatorInjection:
    async def test_operator_object_where_a_string_belongs_is_a_400(self, api):
        resp = await api.post(f"{PREFIX}/echo", json={"name": {"$gt": ""}})
        assert resp.status == 400
        body = await resp.json()
        assert body["code"] == "VALIDATION_ERROR"
        assert body["errors"][0]["field"] == "name"
        assert await api.server.app[DB].echoes.count_documents({}) == 0

    async def test_operator_never_reaches_a_raw_filter(self, api):
        await api.server.app[DB].people.insert_one({"email": "alice@example.com"})
        resp = await api.post(f"{PREFIX}/lookup", json={"email": {"$gt": ""}})
        assert resp.status == 200
        # With `$gt` intact this would have matched alice.
        assert (await resp.json())["data"]["found"] is None

    async def test_where_clause_is_dropped(self, api):
        await api.server.app[DB].people.insert_one({"email": "bob@example.com"})
        resp = await api.post(f"{PREFIX}/lookup",
                              json={"email": "nobody@example.com", "$where": "sleep(1000)"})
        assert resp.status == 200
        assert (await resp.json())["data"]["found"] is None

    async def test_dollar_and_dotted_keys_dropped_at_any_depth(self, api):
        doc = await stored(api, {
            "name": "n", "$set": {"role": "admin"}, "a.b": 1,
            "profile": {"$ne": 1, "ok": {"$gt": 1, "deep.key": 2, "fine": 3},
                        "items": [{"$x": 1, "y": 2}, [{"$in": [1]}]]},
        })
        assert doc == {"name": "n", "profile": {"ok": {"fine": 3}, "items": [{"y": 2}, [{}]]}}

    async def test_nul_in_a_key_is_dropped_not_a_500(self, api):
        resp = await api.post(f"{PREFIX}/echo", data=b'{"name": "a", "profile": {"k\\u0000y": 1}}',
                              headers={"Content-Type": "application/json"})
        assert resp.status == 200
        assert (await resp.json())["data"]["stored"] == {"name": "a", "profile": {}}

    async def test_unsafe_keys_dropped_from_the_query_string(self, api):
        resp = await api.get(f"{PREFIX}/search",
                             params=[("q", "x"), ("$where", "1"), ("page.$gt", "0"), ("a.b", "c")])
        assert resp.status == 200
        assert (await resp.json())["data"]["query"] == {"q": "x"}

    async def test_operator_in_form_body_is_dropped(self, api):
        resp = await api.post(f"{PREFIX}/echo", data={"name": "f", "$where": "1", "x.y": "2"})
        assert resp.status == 200
        assert (await resp.json())["data"]["stored"] == {"name": "f"}


class TestEscaping:
    async def test_script_tag_is_escaped_before_storage(self, api):
        doc = await stored(api, {"name": "<script>alert(1)</script>"})
        assert doc["name"] == "&lt;script&gt;alert(1)&lt;/script&gt;"

    async def test_nested_strings_are_escaped(self, api):
        doc = await stored(api, {"name": "n", "tags": ["<b>", "ok"],
                                 "profile": {"bio": "a > b", "list": ["<i>"]}})
        assert doc["tags"] == ["&lt;b&gt;", "ok"]
        assert doc["profile"] == {"bio": "a &gt; b", "list": ["&lt;i&gt;"]}

    async def test_password_fields_are_never_altered(self, api):
        doc = await stored(api, {"name": "n", "password": "<Pa$$>w0rd&.",
                                 "profile": {"newPassword": "<x>", "currentPassword": "<y>"}})
        assert doc["password"] == "<Pa$$>w0rd&."
        assert doc["profile"] == {"newPassword": "<x>", "currentPassword": "<y>"}

    async def test_query_values_are_escaped(self, api):
        resp = await api.get(f"{PREFIX}/search", params={"q": "<img>"})
        assert (await resp.json())["data"]["data"] == {"q": "&lt;img&gt;"}

    async def test_form_values_are_escaped(self, api):
        resp = await api.post(f"{PREFIX}/echo", data={"name": "<b>", "password": "<p>"})
        assert (await resp.json())["data"]["stored"] == {"name": "&lt;b&gt;", "password": "<p>"}

    async def test_other_characters_pass_through(self, api):
        doc = await stored(api, {"name": "Zoë O'Brien & \"co\" 🙂"})
        assert doc["name"] == "Zoë O'Brien & \"co\" 🙂"


class TestRepeatedParameters:
    async def test_query_keeps_the_last_value(self, api):
        resp = await api.get(f"{PREFIX}/search?q=first&q=second&page=1&page=3")
        data = (await resp.json())["data"]
        assert data["query"] == {"q": "second", "page": "3"}
        assert data["data"] == {"q": "second", "page": 3}

    async def test_form_keeps_the_last_value(self, api):
        resp = await api.post(f"{PREFIX}/echo", data=[("name", "a"), ("name", "b")])
        assert (await resp.json())["data"]["stored"] == {"name": "b"}


class TestUnknownFields:
    async def test_unknown_body_field_is_a_validation_error(self, api):
        resp = await api.post(f"{PREFIX}/echo", json={"name": "n", "role": "admin"})
        assert resp.status == 400
        body = await resp.json()
        assert body["code"] == "VALIDATION_ERROR"
        assert body["errors"] == [{"field": "role", "message": body["error"]}]
        assert "role" in body["error"]

    async def test_every_problem_is_listed(self, api):
        resp = await api.post(f"{PREFIX}/echo",
                              json={"role": "admin", "isActive": True, "tags": "notalist"})
        body = await resp.json()
        assert resp.status == 400
        fields = {e["field"] for e in body["errors"]}
        assert fields == {"role", "isActive", "tags", "name"}
        assert all(e["message"] for e in body["errors"])
        assert body["error"] == body["errors"][0]["message"]

    async def test_unknown_query_parameter_is_a_validation_error(self, api):
        resp = await api.get(f"{PREFIX}/search", params={"sortBy": "x"})
        assert resp.status == 400
        assert (await resp.json())["errors"][0]["field"] == "sortBy"

    @pytest.mark.parametrize("value", [1, True, None, ["a"]])
    async def test_wrong_type_is_a_400(self, api, value):
        resp = await api.post(f"{PREFIX}/echo", json={"name": value})
        assert resp.status == 400
        assert (await resp.json())["errors"][0]["field"] == "name"
