"""handlers/openapi/serializer.py and respond.py: bodies are what the documenting schema says,
the same as marshmallow's own dump, and nothing a schema does not declare ever goes out."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from marshmallow import Schema, fields

from handlers.openapi.decorators import success
from handlers.openapi.respond import respond
from handlers.openapi.serializer import serializer_for
from handlers.schemas import health, responses
from handlers.schemas.envelopes import SuccessSchema, success_body, success_schema
from models.sessions import Session
from models.users import User
from server.services.users import Page
from tests._app import build_app

MOMENT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ADA = User(id="65f0c2a9e4b0a1b2c3d4e5f6", first_name="Ada", last_name="Lovelace",
           email="ada@example.com", password_hash="$2b$12$" + "x" * 53, role="admin",
           is_email_verified=True, phone_number="+44 20 7946 0958",
           date_of_birth=datetime(1990, 4, 1, tzinfo=UTC), last_login=MOMENT,
           login_attempts=2, lock_until=MOMENT, active_sessions=("s1", "s2"),
           created_at=MOMENT.replace(tzinfo=None), updated_at=MOMENT.astimezone(
               timezone(timedelta(hours=2))))
FRESH = User(id="65f0c2a9e4b0a1b2c3d4e5f7", first_name="Bo", last_name="", email="bo@x.io",
             password_hash="h", created_at=MOMENT, updated_at=MOMENT)
SESSION = Session(id="65f0c2a9e4b0a1b2c3d4e5f8", user_id=ADA.id, refresh_hash="secret-hash",
                  previous_hashes=("old",), generation=1, rotated_at=None, created_at=MOMENT,
                  last_used_at=MOMENT, expires_at=MOMENT, user_agent=None, ip="203.0.113.7")


def _session(current: bool) -> dict[str, Any]:
    return {**asdict(SESSION), "current": current}  # as GET /auth/sessions passes it


# (schema, a body as handlers pass it): every response shape of the service.
CASES: list[tuple[type[Schema], Any]] = [
    (responses.UserResponseSchema, success_body({"user": ADA})),
    (responses.UserResponseSchema, success_body({"user": FRESH}, "Profile updated")),
    (responses.UsersPageResponseSchema, success_body({
        "users": [ADA, FRESH], "pagination": Page([ADA, FRESH], 2, 2, 5)})),
    (responses.RegisterResponseSchema,
     success_body({"user": FRESH, "access_token": "jwt"}, responses.REGISTERED)),
    (responses.LoginResponseSchema,
     success_body({"user": ADA, "access_token": "jwt"}, "Login successful")),
    (responses.RefreshResponseSchema, success_body({"access_token": "jwt"}, "Refreshed")),
    (responses.RefreshResponseSchema,
     success_body({"access_token": "jwt", "refresh_token": "r"}, "Refreshed")),
    (responses.SessionsResponseSchema,
     success_body({"sessions": [_session(True), _session(False)]})),
    (responses.MessageResponseSchema, success_body(message="Logout successful")),
    (health.HealthSchema, {"status": "healthy", "timestamp": MOMENT, "uptime": 1.5,
                           "environment": "test", "version": "0.1.0"}),
    (health.ReadySchema, {"status": "ready", "checks": {"database": "up"}}),
]


class TestSameAsMarshmallow:
    @pytest.mark.parametrize(("schema", "body"), CASES,
                             ids=[f"{s.__name__}-{i}" for i, (s, _) in enumerate(CASES)])
    def test_fast_serializer_equals_schema_dump(self, schema: type[Schema], body: Any) -> None:
        fast = serializer_for(schema)(body)
        assert fast == schema().dump(body)
        assert list(fast) == list(schema().dump(body))  # the declared key order too

    def test_a_schema_is_compiled_once(self) -> None:
        assert serializer_for(responses.UserSchema) is serializer_for(responses.UserSchema)


class TestThePublicUser:
    def test_never_carries_secrets(self) -> None:
        # Moved from tests/models/test_users.py with User.to_public (now the response schema).
        public = serializer_for(responses.UserSchema)(ADA)
        assert "password" not in public
        assert not any(word in key.lower() for key in public
                       for word in ("token", "hash", "session", "attempt", "lock"))
        assert public["fullName"] == "Ada Lovelace"
        assert public["createdAt"].endswith("Z")

    def test_times_are_the_contracts_utc_milliseconds_z(self) -> None:
        public = serializer_for(responses.UserSchema)(ADA)
        assert public["lastLogin"] == "2026-01-02T03:04:05.678Z"
        assert public["createdAt"] == "2026-01-02T03:04:05.678Z"  # stored naive: UTC
        assert public["updatedAt"] == "2026-01-02T03:04:05.678Z"  # another zone: converted
        assert public["dateOfBirth"] == "1990-04-01T00:00:00.000Z"
        assert serializer_for(responses.UserSchema)(FRESH)["lastLogin"] is None

    def test_a_field_the_schema_lacks_never_goes_out(self) -> None:
        body = serializer_for(responses.SessionsResponseSchema)(
            success_body({"sessions": [_session(True)], "extra": 1}))
        assert set(body["data"]) == {"sessions"}
        assert set(body["data"]["sessions"][0]) == {"id", "createdAt", "lastUsedAt",
                                                    "userAgent", "ip", "current"}


class TestMissingAndNone:
    def test_absent_optional_fields_are_left_out_and_none_is_kept(self) -> None:
        dump = serializer_for(SuccessSchema)
        assert dump({"success": True}) == {"success": True}
        assert dump({"success": True, "message": None}) == {"success": True, "message": None}

    def test_an_absent_required_field_is_a_bug_not_a_silent_omission(self) -> None:
        with pytest.raises(KeyError):
            serializer_for(responses.UserResponseSchema)({"success": True})
        with pytest.raises(AttributeError):
            serializer_for(responses.PaginationSchema)(object())

    def test_message_keeps_its_place_before_data(self) -> None:
        schema = success_schema("ThingSchema", {"id": fields.String(required=True)})
        body = serializer_for(schema)({"data": {"id": "1"}, "message": "m", "success": True})
        assert list(body) == ["success", "message", "data"]

    def test_a_field_without_a_fast_path_is_refused_at_compile_time(self) -> None:
        class Odd(Schema):
            total = fields.Method("count")

            def count(self, obj: Any) -> int:
                return len(obj)

        with pytest.raises(TypeError, match="no fast serializer for Method"):
            serializer_for(Odd)


class TestRespond:
    def test_every_documented_success_has_its_serializer(self, config: Any) -> None:
        for route in build_app(config).router.routes():
            declared = getattr(route.handler, "__apispec__", {}).get("responses", {})
            statuses = {int(code) for code, entry in declared.items()
                        if int(code) < 400 and "schema" in entry}
            assert statuses <= set(getattr(route.handler, "__serializers__", {})), route

    async def test_a_status_the_route_does_not_document_is_refused(
            self, aiohttp_client: Any) -> None:
        @success(success_schema("MadeSchema", {"id": fields.String(required=True)}), 201,
                 description="Made")
        async def make(request: web.Request) -> web.Response:
            status = int(request.query.get("status", "201"))
            return respond(request, {"id": "7", "secret": "s"}, status=status)

        app = web.Application()
        app.router.add_post("/things", make)
        client = await aiohttp_client(app)
        made = await client.post("/things")
        assert (made.status, await made.json()) == (201, {"success": True, "data": {"id": "7"}})
        assert (await client.post("/things?status=200")).status == 500
