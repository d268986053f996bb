"""Every body the service sends is exactly the shape the OpenAPI document gives for it: a field
the document does not list fails here, on every route (one walk that calls each of them)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pyotp
from aiohttp.test_utils import TestClient
from openapi_schema_validator import OAS30Validator

from handlers.openapi.document import build_openapi
from tests._app import bearer
from tests.conftest import SmtpSink
from tests.handlers._auth import AUTH, NEW_PASSWORD, PASSWORD, mailed_tokens, person
from tests.handlers._oauth import INTROSPECT, METADATA, REVOKE, new_client
from tests.handlers._passkeys import PASSKEYS, SoftAuthenticator
from tests.handlers._users import USERS, person_of

JSON = "application/json"
ADA = "ada@example.com"


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _properties(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    schema = _resolve(schema, components)
    found = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        found.update(_properties(part, components))
    return found


def undocumented_fields(body: Any, schema: dict[str, Any], components: dict[str, Any],
                        where: str = "") -> list[str]:
    """Paths of the fields in `body` that `schema` (an OpenAPI schema) does not declare,
    whatever its `additionalProperties` says."""
    schema = _resolve(schema, components)
    if isinstance(body, list):
        items = schema.get("items", {})
        return [problem for i, item in enumerate(body)
                for problem in undocumented_fields(item, items, components, f"{where}[{i}]")]
    if not isinstance(body, dict):
        return []
    declared = _properties(schema, components)
    problems = []
    for key, value in body.items():
        path = f"{where}.{key}" if where else key
        if key not in declared:
            problems.append(path)
        else:
            problems.extend(undocumented_fields(value, declared[key], components, path))
    return problems


@dataclass
class Walk:
    """Calls routes by their documented path template and keeps what came back."""

    client: TestClient  # type: ignore[type-arg]
    seen: list[tuple[str, str, int, Any]] = field(default_factory=list)

    async def call(self, method: str, template: str, expect: int, token: str | None = None,
                   path: str | None = None, headers: dict[str, str] | None = None,
                   **kwargs: Any) -> Any:
        headers = {**(bearer(token) if token else {}), **(headers or {})}
        async with self.client.request(method, path or template, headers=headers,
                                       **kwargs) as resp:
            body = await resp.json()
            assert resp.status == expect, (method, template, resp.status, body)
        self.seen.append((method, template, resp.status, body))
        return body


async def _auth_routes(walk: Walk, sink: SmtpSink) -> None:
    registered = await walk.call("POST", f"{AUTH}/register", 201, json=person(ADA))
    token = registered["data"]["accessToken"]
    await walk.call("POST", f"{AUTH}/resend-verification", 200, token, json={})
    verify = (await mailed_tokens(sink, ADA, "verify-email", 2))[-1]
    await walk.call("GET", f"{AUTH}/verify-email/{{token}}", 200,
                    path=f"{AUTH}/verify-email/{verify}")
    await walk.call("POST", f"{AUTH}/forgot-password", 200, json={"email": ADA})
    reset = (await mailed_tokens(sink, ADA, "reset-password"))[-1]
    await walk.call("POST", f"{AUTH}/reset-password/{{token}}", 200,
                    path=f"{AUTH}/reset-password/{reset}", json={"password": NEW_PASSWORD})
    credentials = {"email": ADA, "password": NEW_PASSWORD}
    await walk.call("POST", f"{AUTH}/login", 200, json=credentials)  # ended by id below
    await walk.call("POST", f"{AUTH}/refresh-token", 200)  # by the cookie
    second = (await walk.call("POST", f"{AUTH}/login", 200, json=credentials))["data"]
    cookie = _cookie_of(walk)
    walk.client.session.cookie_jar.clear()
    body = await walk.call("POST", f"{AUTH}/refresh-token", 200, json={"refreshToken": cookie})
    assert "refreshToken" in body["data"]  # the optional field, for a client without cookies
    await walk.call("POST", f"{AUTH}/logout", 200, second["accessToken"], json={})
    third = (await walk.call("POST", f"{AUTH}/login", 200, json=credentials))["data"]
    sessions = await walk.call("GET", f"{AUTH}/sessions", 200, third["accessToken"])
    others = [s["id"] for s in sessions["data"]["sessions"] if not s["current"]]
    assert len(others) == 1  # the session of the first login after the reset
    await walk.call("DELETE", f"{AUTH}/sessions/{{id}}", 200, third["accessToken"],
                    path=f"{AUTH}/sessions/{others[0]}")
    await walk.call("POST", f"{AUTH}/logout-all", 200, third["accessToken"], json={})


def _cookie_of(walk: Walk) -> str:
    return next(c.value for c in walk.client.session.cookie_jar if c.key == "refreshToken")


async def _users_routes(walk: Walk) -> None:
    me = (await walk.call("POST", f"{AUTH}/login", 200,
                          json={"email": ADA, "password": NEW_PASSWORD}))["data"]
    token, user_id = me["accessToken"], me["user"]["id"]
    await walk.call("GET", f"{USERS}/me", 200, token)
    await walk.call("PATCH", f"{USERS}/me", 200, token, json={
        "phoneNumber": "+44 20 7946 0958", "dateOfBirth": "1990-04-01",
        "profilePicture": "https://example.com/ada.png", "preferences": {"theme": "dark"}})
    await walk.call("POST", f"{USERS}/me/password", 200, token,
                    json={"currentPassword": NEW_PASSWORD, "newPassword": PASSWORD})
    admin = await person_of(walk.client, "admin")
    await walk.call("GET", USERS, 200, admin.token)
    await walk.call("GET", f"{USERS}/{{id}}", 200, admin.token, path=f"{USERS}/{user_id}")
    await walk.call("PATCH", f"{USERS}/{{id}}", 200, admin.token, path=f"{USERS}/{user_id}",
                    json={"role": "moderator"})
    await walk.call("DELETE", f"{USERS}/me", 200, token, json={"currentPassword": PASSWORD})
    await walk.call("DELETE", f"{USERS}/{{id}}/mfa", 200, admin.token,
                    path=f"{USERS}/{user_id}/mfa", json={})
    await walk.call("DELETE", f"{USERS}/{{id}}", 200, admin.token, path=f"{USERS}/{user_id}")


async def _oauth_routes(walk: Walk) -> None:
    await walk.call("GET", METADATA, 200)
    me = (await walk.call("POST", f"{AUTH}/login", 200,
                          json={"email": ADA, "password": NEW_PASSWORD}))["data"]
    service = await new_client(walk.client)
    live = await walk.call("POST", INTROSPECT, 200, headers=service.auth,
                           data={"token": me["accessToken"]})
    assert live["active"] is True
    await walk.call("POST", REVOKE, 200, data={"token": me["accessToken"]})
    gone = await walk.call("POST", INTROSPECT, 200, headers=service.auth,
                           data={"token": me["accessToken"]})
    assert gone == {"active": False}
    await walk.call("POST", INTROSPECT, 401, data={"token": "x"})


async def _mfa_routes(walk: Walk) -> None:
    """Issue 16: enrol, sign in with the second factor, remove it (codes at the real time)."""
    mfa, grace = f"{AUTH}/mfa", await person_of(walk.client, email="grace@example.com")
    setup = (await walk.call("POST", f"{mfa}/totp/setup", 200, grace.token, json={}))["data"]
    totp = pyotp.TOTP(setup["secret"])
    await walk.call("POST", f"{mfa}/totp/confirm", 200, grace.token, json={"code": totp.now()})
    codes = await walk.call("POST", f"{mfa}/recovery-codes/regenerate", 200, grace.token,
                            json={})
    await walk.call("GET", f"{USERS}/me", 200, grace.token)
    walk.client.session.cookie_jar.clear()
    challenge = await walk.call("POST", f"{AUTH}/login", 200,
                                json={"email": grace.email, "password": PASSWORD})
    await walk.call("POST", f"{mfa}/verify", 200, json={
        "mfaToken": challenge["data"]["mfaToken"],
        "recoveryCode": codes["data"]["recoveryCodes"][0]})
    # A step on from the confirming code's: accepted (drift), and not a replay.
    await walk.call("DELETE", f"{mfa}/totp", 200, grace.token, json={
        "currentPassword": PASSWORD, "code": totp.at(time.time() + 30)})
    await walk.call("POST", f"{AUTH}/reauth", 200, grace.token, json={"password": PASSWORD})


async def _passkey_routes(walk: Walk) -> None:
    """Issue 16: register a passkey, sign in with it both ways, rename and remove it."""
    keys, hopper = SoftAuthenticator(), await person_of(walk.client, email="hopper@example.com")
    options = await walk.call("POST", f"{PASSKEYS}/register/options", 200, hopper.token, json={})
    added = await walk.call("POST", f"{PASSKEYS}/register/verify", 200, hopper.token, json={
        "credential": keys.create(options["data"]["publicKey"]), "name": "Laptop"})
    await walk.call("GET", PASSKEYS, 200, hopper.token)
    walk.client.session.cookie_jar.clear()
    challenge = await walk.call("POST", f"{AUTH}/login", 200,
                                json={"email": hopper.email, "password": PASSWORD})
    token = challenge["data"]["mfaToken"]
    options = await walk.call("POST", f"{PASSKEYS}/authenticate/options", 200,
                              json={"mfaToken": token})
    await walk.call("POST", f"{AUTH}/mfa/verify", 200, json={
        "mfaToken": token, "passkey": keys.get(options["data"]["publicKey"])})
    options = await walk.call("POST", f"{AUTH}/passkeys/options", 200, json={})
    await walk.call("POST", f"{AUTH}/passkeys/verify", 200, json={
        "credential": keys.get(options["data"]["publicKey"])})
    path = f"{PASSKEYS}/{added['data']['passkey']['id']}"
    await walk.call("PATCH", f"{PASSKEYS}/{{id}}", 200, hopper.token, path=path,
                    json={"name": "Desk"})
    options = await walk.call("POST", f"{AUTH}/reauth/passkey/options", 200, hopper.token,
                              json={})
    await walk.call("POST", f"{AUTH}/reauth", 200, hopper.token, json={
        "password": PASSWORD, "passkey": keys.get(options["data"]["publicKey"])})
    await walk.call("DELETE", f"{PASSKEYS}/{{id}}", 200, hopper.token, path=path,
                    json={"currentPassword": PASSWORD})


async def _failures(walk: Walk) -> None:
    """A few error bodies: they too carry only the Error envelope's fields."""
    await walk.call("GET", f"{USERS}/me", 401)
    await walk.call("POST", f"{AUTH}/login", 400, json={"email": "nope"})
    await walk.call("POST", f"{AUTH}/login", 401, json={"email": ADA, "password": "Wr0ng!pass"})


async def walk_every_route(client: TestClient, sink: SmtpSink) -> Walk:  # type: ignore[type-arg]
    walk = Walk(client)
    await walk.call("GET", "/health", 200)
    await walk.call("GET", "/health/ready", 200)
    await walk.call("GET", "/.well-known/jwks.json", 200)  # HS256 here: the empty set
    await _auth_routes(walk, sink)
    await _oauth_routes(walk)
    await _users_routes(walk)
    await _mfa_routes(walk)
    await _passkey_routes(walk)
    await _failures(walk)
    return walk


def json_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, path) of every documented operation whose success answer is JSON."""
    return {(method.upper(), path) for path, ops in spec["paths"].items()
            for method, op in ops.items()
            if any(int(code) < 400 and JSON in response.get("content", {})
                   for code, response in op["responses"].items())}


class TestEveryBodyIsItsDocumentedShape:
    async def test_no_route_sends_a_field_its_schema_does_not_list(
            self, mail_client: TestClient, smtp_server: SmtpSink) -> None:  # type: ignore[type-arg]
        spec = build_openapi(mail_client.app)
        components = spec["components"]
        walk = await walk_every_route(mail_client, smtp_server)
        problems = []
        for method, template, status, body in walk.seen:
            response = spec["paths"][template][method.lower()]["responses"][str(status)]
            schema = response["content"][JSON]["schema"]
            where = f"{method} {template} {status}"
            problems += [f"{where}: {path}" for path in
                         undocumented_fields(body, schema, components)]
            validator = OAS30Validator({**schema, "components": components})
            problems += [f"{where}: {e.message}" for e in validator.iter_errors(body)]
        assert problems == []
        # A new route must join the walk, or this fails.
        walked = {(method, template) for method, template, status, _ in walk.seen
                  if status < 400}
        assert json_operations(spec) - walked == set()

    def test_the_check_names_a_field_the_schema_lacks(self) -> None:
        components = {"schemas": {
            "User": {"type": "object", "properties": {"id": {"type": "string"}}},
            "Body": {"type": "object", "properties": {
                "data": {"type": "object", "properties": {
                    "users": {"type": "array", "items": {"$ref": "#/components/schemas/User"}},
                }}}}}}
        body = {"data": {"users": [{"id": "1"}, {"id": "2", "password": "x"}]}, "extra": 1}
        assert undocumented_fields(body, {"$ref": "#/components/schemas/Body"}, components) \
            == ["data.users[1].password", "extra"]
