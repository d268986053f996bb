"""The single URL table: every route of the service and the handler method it calls."""

from __future__ import annotations

from aiohttp import web

from handlers.auth import AuthHandler
from handlers.docs import DocsHandler
from handlers.health import HealthHandler
from handlers.users import UsersHandler

API = "/api/v1"


def setup_routes(app: web.Application) -> None:
    health = HealthHandler()
    app.router.add_get("/health", health.health)
    app.router.add_get("/health/ready", health.ready)
    app.router.add_get("/metrics", health.metrics)
    auth = AuthHandler()
    app.router.add_post(f"{API}/auth/register", auth.register)
    app.router.add_post(f"{API}/auth/login", auth.login)
    app.router.add_post(f"{API}/auth/refresh-token", auth.refresh_token)
    app.router.add_post(f"{API}/auth/logout", auth.logout)
    app.router.add_post(f"{API}/auth/logout-all", auth.logout_all)
    app.router.add_get(f"{API}/auth/sessions", auth.list_sessions)
    app.router.add_delete(f"{API}/auth/sessions/{{id}}", auth.delete_session)
    app.router.add_get(f"{API}/auth/verify-email/{{token}}", auth.verify_email)
    app.router.add_post(f"{API}/auth/resend-verification", auth.resend_verification)
    app.router.add_post(f"{API}/auth/forgot-password", auth.forgot_password)
    app.router.add_post(f"{API}/auth/reset-password/{{token}}", auth.reset_password)
    users = UsersHandler()
    # The /me routes come before /{id}, which would otherwise match "me".
    app.router.add_get(f"{API}/users/me", users.get_me)
    app.router.add_patch(f"{API}/users/me", users.update_me)
    app.router.add_delete(f"{API}/users/me", users.deactivate_me)
    app.router.add_post(f"{API}/users/me/password", users.change_password)
    app.router.add_get(f"{API}/users", users.list_users)
    app.router.add_get(f"{API}/users/", users.list_users)  # `GET /` of API.md, as written
    app.router.add_get(f"{API}/users/{{id}}", users.get_user)
    app.router.add_patch(f"{API}/users/{{id}}", users.update_user)
    app.router.add_delete(f"{API}/users/{{id}}", users.delete_user)
    docs = DocsHandler()
    app.router.add_get("/api-docs", docs.ui)
    app.router.add_get("/api-docs/openapi.json", docs.openapi)
    app.router.add_get("/api-docs/static/{name}", docs.asset)
