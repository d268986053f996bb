"""The single route table: each route once, with its budget and whether it carries a token."""

from __future__ import annotations

import pytest

from server.core.http import API_PREFIX, AUTH_PREFIX, CREDENTIAL_BUDGET, RoutePolicy, RouteTable
from server.web.routes import routes

RESET = RoutePolicy(f"{AUTH_PREFIX}/reset-password/{{token}}", CREDENTIAL_BUDGET, True)
LOGIN = RoutePolicy(f"{AUTH_PREFIX}/login", CREDENTIAL_BUDGET)
ME_READ = RoutePolicy(f"{API_PREFIX}/users/me")
ME_UPDATE = RoutePolicy(ME_READ.template, CREDENTIAL_BUDGET)


def test_each_method_and_path_is_named_once() -> None:
    pairs = [(r.method, r.path) for r in routes()]
    assert len(pairs) == len(set(pairs))


def test_token_routes_are_the_ones_with_a_token_in_their_path() -> None:
    marked = {r.path for r in routes() if r.token_in_path}
    assert marked == {r.path for r in routes() if "{token}" in r.path}
    assert marked == {f"{AUTH_PREFIX}/verify-email/{{token}}",
                      f"{AUTH_PREFIX}/reset-password/{{token}}"}


def test_the_credential_routes_of_the_contract() -> None:
    # API.md: register, login, forgot/reset password and resend verification; and the
    # profile update, which may change the sign-in email (issue 13).
    assert {(r.method, r.path) for r in routes() if r.budget == CREDENTIAL_BUDGET} == {
        ("POST", f"{AUTH_PREFIX}/{name}") for name in (
            "register", "login", "forgot-password", "resend-verification",
            "reset-password/{token}")} | {("PATCH", f"{API_PREFIX}/users/me")} | {
        # Issue 16: a second-factor code is a credential too.
        ("POST", f"{AUTH_PREFIX}/mfa/verify"), ("POST", f"{AUTH_PREFIX}/mfa/totp/confirm"),
        ("DELETE", f"{AUTH_PREFIX}/mfa/totp"), ("POST", f"{AUTH_PREFIX}/reauth")} | {
        # Issue 16 passkeys: the answers, the removal (a password), and the anonymous
        # options routes, each of which stores a challenge.
        ("POST", f"{AUTH_PREFIX}/mfa/passkeys/register/verify"),
        ("DELETE", f"{AUTH_PREFIX}/mfa/passkeys/{{id}}"),
        ("POST", f"{AUTH_PREFIX}/mfa/passkeys/authenticate/options"),
        ("POST", f"{AUTH_PREFIX}/passkeys/options"), ("POST", f"{AUTH_PREFIX}/passkeys/verify"),
        # The step-up's passkey options: a challenge stored per call, its answer a credential.
        ("POST", f"{AUTH_PREFIX}/reauth/passkey/options")} | {
        # Issue 15: client secrets and tokens are guessed at introspection and revocation.
        ("POST", f"{API_PREFIX}/oauth/introspect"), ("POST", f"{API_PREFIX}/oauth/revoke")}


class TestFind:
    @pytest.fixture
    def table(self) -> RouteTable:
        table = RouteTable()
        for policy in (RESET, LOGIN):
            table.add(policy, "POST")
        table.add(ME_READ, "GET")
        table.add(ME_UPDATE, "PATCH")
        return table

    def test_a_matched_route_by_its_template(self, table: RouteTable) -> None:
        assert table.find(RESET.template, f"{AUTH_PREFIX}/reset-password/abc",
                          "POST") == RESET
        assert table.find("/api/v1/other", "/api/v1/other") is None

    def test_a_matched_route_by_its_method(self, table: RouteTable) -> None:
        path = ME_READ.template
        assert table.find(path, path, "PATCH") == ME_UPDATE
        assert table.find(path, path, "GET") == ME_READ
        assert table.find(path, path, "HEAD") == ME_READ

    @pytest.mark.parametrize("path", [
        f"{AUTH_PREFIX}/reset-password/abc/x",
        f"{AUTH_PREFIX}/reset-password/",
        f"{AUTH_PREFIX}//reset-password/abc",
        f"{AUTH_PREFIX}/reset-password//abc",
    ])
    def test_an_unmatched_path_under_a_token_route(self, table: RouteTable, path: str) -> None:
        assert table.find(None, path) == RESET

    def test_a_wrong_method_on_a_plain_route(self, table: RouteTable) -> None:
        assert table.find(None, f"{AUTH_PREFIX}/login") == LOGIN
        assert table.find(None, f"{AUTH_PREFIX}/login/x") is None
        assert table.find(None, f"{AUTH_PREFIX}/reset-password") is None

    def test_one_policy_per_route(self, table: RouteTable) -> None:
        table.add(RESET, "POST")  # the same again is fine
        with pytest.raises(ValueError, match="two policies"):
            table.add(RoutePolicy(RESET.template), "POST")
        with pytest.raises(ValueError, match="some methods only"):
            table.add(RoutePolicy(RESET.template), "GET")
        with pytest.raises(ValueError, match="unknown budget"):
            table.add(RoutePolicy("/x", "gold"))
        with pytest.raises(ValueError, match="needs"):
            table.add(RoutePolicy("/y/{id}", token_in_path=True))
