"""The single URL table: every route of the service, the handler method it calls, the extra
rate-limit budget it spends and whether its path carries a token (the one place that says
so: the rate limiter and every log line read it back through app[ROUTES])."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from handlers.auth import AuthHandler
from handlers.docs import DocsHandler
from handlers.health import HealthHandler
from handlers.jwks import JwksHandler
from handlers.mfa import MfaHandler
from handlers.oauth import INTROSPECT_PATH, REVOKE_PATH, OAuthHandler
from handlers.passkeys import PasskeyHandler
from handlers.users import UsersHandler
from server.core.http import (
    API_PREFIX,
    AUTH_PREFIX,
    AUTHORIZATION_SERVER_METADATA,
    RoutePolicy,
    RouteTable,
)
from server.core.http import CREDENTIAL_BUDGET as CREDENTIALS  # rate_limit.auth_max per IP
from server.core.keys import ROUTES


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    budget: str | None = None
    token_in_path: bool = False  # logs show the template, never the path


def routes() -> list[Route]:
    """Every route, in matching order."""
    health, auth, users, docs = HealthHandler(), AuthHandler(), UsersHandler(), DocsHandler()
    oauth = OAuthHandler()
    mfa, passkeys = MfaHandler(), PasskeyHandler()
    pk = f"{AUTH_PREFIX}/mfa/passkeys"
    return [
        Route("GET", "/health", health.health),
        Route("GET", "/health/ready", health.ready),
        Route("GET", "/metrics", health.metrics),
        Route("GET", "/.well-known/jwks.json", JwksHandler().jwks),
        Route("POST", f"{AUTH_PREFIX}/register", auth.register, CREDENTIALS),
        Route("POST", f"{AUTH_PREFIX}/login", auth.login, CREDENTIALS),
        Route("POST", f"{AUTH_PREFIX}/refresh-token", auth.refresh_token),
        Route("POST", f"{AUTH_PREFIX}/logout", auth.logout),
        Route("POST", f"{AUTH_PREFIX}/logout-all", auth.logout_all),
        Route("GET", f"{AUTH_PREFIX}/sessions", auth.list_sessions),
        Route("DELETE", f"{AUTH_PREFIX}/sessions/{{id}}", auth.delete_session),
        Route("GET", f"{AUTH_PREFIX}/verify-email/{{token}}", auth.verify_email,
              token_in_path=True),
        Route("POST", f"{AUTH_PREFIX}/resend-verification", auth.resend_verification,
              CREDENTIALS),
        Route("POST", f"{AUTH_PREFIX}/forgot-password", auth.forgot_password, CREDENTIALS),
        Route("POST", f"{AUTH_PREFIX}/reset-password/{{token}}", auth.reset_password,
              CREDENTIALS, token_in_path=True),
        Route("POST", f"{AUTH_PREFIX}/mfa/totp/setup", mfa.totp_setup),
        # A code is a credential: guessing one spends the credential budget.
        Route("POST", f"{AUTH_PREFIX}/mfa/totp/confirm", mfa.totp_confirm, CREDENTIALS),
        Route("DELETE", f"{AUTH_PREFIX}/mfa/totp", mfa.totp_remove, CREDENTIALS),
        Route("POST", f"{AUTH_PREFIX}/mfa/recovery-codes/regenerate",
              mfa.regenerate_recovery_codes),
        Route("POST", f"{AUTH_PREFIX}/mfa/verify", mfa.verify, CREDENTIALS),
        Route("POST", f"{AUTH_PREFIX}/reauth", mfa.reauth, CREDENTIALS),
        # Stores a challenge per call, and its answer is a step-up credential.
        Route("POST", f"{AUTH_PREFIX}/reauth/passkey/options", passkeys.reauth_options,
              CREDENTIALS),
        # Passkeys: the answers are credentials (and removal takes a password); the
        # anonymous options routes store a challenge each, so they spend the budget too.
        Route("POST", f"{pk}/register/options", passkeys.register_options),
        Route("POST", f"{pk}/register/verify", passkeys.register_verify, CREDENTIALS),
        Route("GET", pk, passkeys.list_passkeys),
        Route("PATCH", f"{pk}/{{id}}", passkeys.rename),
        Route("DELETE", f"{pk}/{{id}}", passkeys.remove, CREDENTIALS),
        Route("POST", f"{pk}/authenticate/options", passkeys.mfa_options, CREDENTIALS),
        Route("POST", f"{AUTH_PREFIX}/passkeys/options", passkeys.passwordless_options,
              CREDENTIALS),
        Route("POST", f"{AUTH_PREFIX}/passkeys/verify", passkeys.passwordless_verify,
              CREDENTIALS),
        # The /me routes come before /{id}, which would otherwise match "me".
        Route("GET", f"{API_PREFIX}/users/me", users.get_me),
        # A profile update may change the sign-in email: the credential budget (issue 13).
        Route("PATCH", f"{API_PREFIX}/users/me", users.update_me, CREDENTIALS),
        Route("DELETE", f"{API_PREFIX}/users/me", users.deactivate_me),
        Route("POST", f"{API_PREFIX}/users/me/password", users.change_password),
        Route("GET", f"{API_PREFIX}/users", users.list_users),
        Route("GET", f"{API_PREFIX}/users/", users.list_users),  # `GET /` of API.md, as written
        Route("GET", f"{API_PREFIX}/users/{{id}}", users.get_user),
        Route("PATCH", f"{API_PREFIX}/users/{{id}}", users.update_user),
        Route("DELETE", f"{API_PREFIX}/users/{{id}}", users.delete_user),
        Route("DELETE", f"{API_PREFIX}/users/{{id}}/mfa", users.reset_factors),
        # Client secrets and tokens are guessed here as at login: the credential budget.
        Route("POST", INTROSPECT_PATH, oauth.introspect, CREDENTIALS),
        Route("POST", REVOKE_PATH, oauth.revoke, CREDENTIALS),
        Route("GET", AUTHORIZATION_SERVER_METADATA, oauth.metadata),
        Route("GET", "/api-docs", docs.ui),
        Route("GET", "/api-docs/openapi.json", docs.openapi),
        Route("GET", "/api-docs/static/{name}", docs.asset),
    ]


def setup_routes(app: web.Application) -> None:
    """Add every route to the router and its policy to app[ROUTES]."""
    table = RouteTable()
    for route in routes():
        if route.method == "GET":
            app.router.add_get(route.path, route.handler)  # and HEAD
        else:
            app.router.add_route(route.method, route.path, route.handler)
        table.add(RoutePolicy(route.path, route.budget, route.token_in_path), route.method)
    app[ROUTES] = table
