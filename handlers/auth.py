"""The auth routes (under AUTH_PREFIX): one AuthHandler method per route (API.md, Auth)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from handlers._auth import enrolment_route, require_user, signing_key
from handlers._origin import same_origin_only
from handlers.openapi import links
from handlers.openapi.decorators import (
    bearer_auth,
    docs,
    errors,
    match_info_schema,
    refresh_cookie,
    request_schema,
    success,
)
from handlers.openapi.respond import respond
from handlers.schemas import responses as out
from handlers.schemas.auth import (
    EmptySchema,
    ForgotPasswordSchema,
    LoginSchema,
    LogoutSchema,
    RefreshTokenSchema,
    RegisterSchema,
    ResetPasswordSchema,
    SessionPathSchema,
    TokenPathSchema,
)
from server.core.errors import (
    AccountDeactivated,
    AccountLocked,
    AlreadyVerified,
    BadCredentials,
    EmailTaken,
    InvalidRefreshToken,
    InvalidResetToken,
    InvalidVerificationToken,
    RefreshTokenMissing,
    SessionNotFound,
)
from server.core.http import AUTH_PREFIX
from server.core.keys import CLIENT_IP, CLOCK, CONFIG, DATA, NOW
from server.core.text import escape_angles
from server.db import DB
from server.http.request import AUDIT
from server.mail.sender import MAILER
from server.services import auth, auth_context, sessions
from server.services.second_factor import MfaChallenge
from server.services.sessions import Started

COOKIE = "refreshToken"
COOKIE_PATH = AUTH_PREFIX
FORGOT_MESSAGE = "If the email exists in our system, a password reset link has been sent."


def _set_cookie(request: web.Request, response: web.Response, token: str) -> None:
    config = request.app[CONFIG]
    response.set_cookie(COOKIE, token, max_age=int(config.jwt.refresh_ttl.total_seconds()),
                        path=COOKIE_PATH, httponly=True, samesite="Strict",
                        secure=config.is_production)


def _clear_cookie(request: web.Request, response: web.Response) -> None:
    response.del_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="Strict",
                        secure=request.app[CONFIG].is_production)


async def signed_in(request: web.Request, started: Started, message: str, status: int = 200,
                    *, amr: Sequence[str] | None = None) -> web.Response:
    """The answer of a sign-in that started a session: user, access token, refresh cookie."""
    config, now = request.app[CONFIG], request[NOW]
    key = await signing_key(request)
    data = {"user": started.user,
            "access_token": auth.access_token(config, started.user, started.session_id, now,
                                              amr=started.amr if amr is None else amr,
                                              key=key)}
    response = respond(request, data, message=message, status=status)
    _set_cookie(request, response, started.refresh_token)
    return response


def client_of(request: web.Request) -> dict[str, Any]:
    # The User-Agent is client text shown back by GET /sessions: escaped like any body string.
    agent = escape_angles(request.headers.get("User-Agent", "")[:512])
    return {"user_agent": agent or None, "ip": request[CLIENT_IP], "audit": request[AUDIT]}


class AuthHandler:
    @docs(tags=["auth"], summary="Create an account, sign in and mail a verification link")
    @request_schema(RegisterSchema)
    @success(out.RegisterResponseSchema, 201, sets_refresh_cookie=True,
             description="Registered and signed in; a verification email is on its way",
             links=links.REGISTER_LINKS)
    @errors(EmailTaken)
    @same_origin_only
    async def register(self, request: web.Request) -> web.Response:
        app = request.app
        started = await auth.register(app[DB], app[CONFIG], app[MAILER], request[DATA],
                                      request[NOW], **client_of(request))
        return await signed_in(request, started, "User registered successfully. Please check your "
                          "email to verify your account.", status=201)

    @docs(tags=["auth"], summary="Sign in with email and password",
          description="For an account with a second factor, the right password answers "
                      "200 with `mfaRequired: true`, the `factors` it may use and a single-use "
                      "`mfaToken` (5 minutes) instead: no access token and no cookie until "
                      "POST /auth/mfa/verify completes the sign-in. Wrong codes there count "
                      "toward the same lockout as wrong passwords.")
    @request_schema(LoginSchema)
    @success(out.LoginResponseSchema, sets_refresh_cookie=True, description="Signed in",
             links=links.LOGIN_LINKS)
    @errors(BadCredentials, AccountLocked(extra={"retryAfter": 7200}),
            AccountDeactivated)
    @same_origin_only
    async def login(self, request: web.Request) -> web.Response:
        app, data = request.app, request[DATA]
        started = await auth.login(app[DB], app[CONFIG], app[MAILER], data["email"],
                                   data["password"],
                                   # The live clock, not NOW: a login may wait for a slot.
                                   app[CLOCK], **client_of(request))
        if isinstance(started, MfaChallenge):  # no session, no token, no cookie yet
            return respond(request, {"mfa_required": True, "factors": started.factors,
                                     "mfa_token": started.mfa_token,
                                     "expires_at": started.expires_at},
                           message="Second factor required")
        return await signed_in(request, started, "Login successful")

    @docs(tags=["auth"], summary="Rotate the refresh token and get a new access token")
    @request_schema(RefreshTokenSchema)
    @refresh_cookie
    @success(out.RefreshResponseSchema, sets_refresh_cookie=True,
             description="A new access token; the refresh token is rotated")
    @errors(RefreshTokenMissing, InvalidRefreshToken, AccountDeactivated)
    @same_origin_only
    async def refresh_token(self, request: web.Request) -> web.Response:
        app = request.app
        in_body = request[DATA].get("refreshToken")
        token = request.cookies.get(COOKIE) or in_body
        if not token:
            raise RefreshTokenMissing()
        now = request[NOW]
        started = await sessions.refresh(app[DB], app[CONFIG], token, now, request[AUDIT])
        signed = auth_context.of_session(started.user, started.session_id)
        key = await signing_key(request)
        data = {"access_token": auth.access_token(app[CONFIG], started.user,
                                                  started.session_id, now, amr=signed.amr,
                                                  auth_time=signed.auth_time, key=key)}
        if in_body and token == in_body:  # a non-browser client: it cannot read the cookie jar
            data["refresh_token"] = started.refresh_token
        response = respond(request, data, message="Token refreshed successfully")
        _set_cookie(request, response, started.refresh_token)
        return response

    @docs(tags=["auth"], summary="End the current session")
    @request_schema(LogoutSchema)
    @bearer_auth()
    @success(out.MessageResponseSchema, description="Session ended; the cookie is cleared",
             example=out.message_example("Logout successful"))
    @same_origin_only
    @enrolment_route
    async def logout(self, request: web.Request) -> web.Response:
        ctx = await require_user(request)
        await sessions.end_session_of(request.app[DB], ctx.user, ctx.session_id,
                                      request[AUDIT], reason="logout")
        response = respond(request, message="Logout successful")
        _clear_cookie(request, response)
        return response

    @docs(tags=["auth"], summary="End every session of the signed-in user")
    @request_schema(EmptySchema)
    @bearer_auth()
    @success(out.MessageResponseSchema, description="Every session of the user ended",
             example=out.message_example("Logged out from all sessions"))
    @same_origin_only
    @enrolment_route
    async def logout_all(self, request: web.Request) -> web.Response:
        ctx = await require_user(request)
        await sessions.end_all_sessions(request.app[DB], ctx.user, request[AUDIT],
                                        reason="logout_all")
        response = respond(request, message="Logged out from all sessions")
        _clear_cookie(request, response)
        return response

    @docs(tags=["auth"], summary="List the signed-in user's sessions")
    @bearer_auth()
    @success(out.SessionsResponseSchema, description="The user's live sessions")
    async def list_sessions(self, request: web.Request) -> web.Response:
        ctx = await require_user(request)
        found = await sessions.list_sessions(request.app[DB], ctx.user, request[NOW])
        # Only the public fields: the refresh hashes never leave the model.
        return respond(request, {"sessions": [
            {"id": s.id, "created_at": s.created_at, "last_used_at": s.last_used_at,
             "user_agent": s.user_agent, "ip": s.ip, "current": s.id == ctx.session_id}
            for s in found]})

    @docs(tags=["auth"], summary="End one of the signed-in user's sessions")
    @match_info_schema(SessionPathSchema)
    @bearer_auth()
    @success(out.MessageResponseSchema, description="That session ended",
             example=out.message_example("Session ended"))
    @errors(SessionNotFound)
    async def delete_session(self, request: web.Request) -> web.Response:
        ctx = await require_user(request)
        await sessions.end_session_of(request.app[DB], ctx.user, request[DATA]["id"],
                                      request[AUDIT], reason="revoked")
        return respond(request, message="Session ended")

    @docs(tags=["auth"], summary="Verify an email address with the mailed token",
          description="The same link confirms an email change: the pending address becomes "
                      "the sign-in email. If another account took that address meanwhile, "
                      "the change is dropped (409).")
    @match_info_schema(TokenPathSchema)
    @success(out.MessageResponseSchema, description="Verified (the link is single use)",
             example=out.message_example("Email verified successfully"))
    @errors(InvalidVerificationToken, EmailTaken)
    async def verify_email(self, request: web.Request) -> web.Response:
        app = request.app
        await auth.verify_email(app[DB], request[DATA]["token"], request[NOW],
                                request[AUDIT])
        return respond(request, message="Email verified successfully")

    @docs(tags=["auth"], summary="Mail a new verification link")
    @request_schema(EmptySchema)
    @bearer_auth()
    @success(out.MessageResponseSchema, description="A new link is mailed; older ones stop working",
             example=out.message_example("Verification email sent"))
    @errors(AlreadyVerified)
    async def resend_verification(self, request: web.Request) -> web.Response:
        ctx = await require_user(request)
        app = request.app
        await auth.resend_verification(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                       request[NOW], request[AUDIT])
        return respond(request, message="Verification email sent")

    @docs(tags=["auth"], summary="Mail a password reset link if the email is known")
    @request_schema(ForgotPasswordSchema)
    @success(out.MessageResponseSchema, description="The same answer whether or not it exists",
             example=out.message_example(FORGOT_MESSAGE))
    async def forgot_password(self, request: web.Request) -> web.Response:
        app = request.app
        await auth.forgot_password(app[DB], app[CONFIG], app[MAILER], request[DATA]["email"],
                                   request[NOW], request[AUDIT])
        return respond(request, message=FORGOT_MESSAGE)

    @docs(tags=["auth"], summary="Set a new password with the mailed reset token")
    @match_info_schema(TokenPathSchema)
    @request_schema(ResetPasswordSchema)
    @success(out.MessageResponseSchema,
             description="Password set; every session ended; the lock cleared",
             example=out.message_example("Password reset successfully"))
    @errors(InvalidResetToken)
    async def reset_password(self, request: web.Request) -> web.Response:
        app, data = request.app, request[DATA]
        await auth.reset_password(app[DB], app[CONFIG], app[MAILER], data["token"],
                                  data["password"], request[NOW], request[AUDIT])
        return respond(request, message="Password reset successfully")
