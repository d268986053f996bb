"""The users routes (under API_PREFIX): one UsersHandler method per route (API.md, Users)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handlers._auth import ADMIN, STAFF, AuthContext, enrolment_route, requires
from handlers.openapi.decorators import (
    docs,
    errors,
    match_info_schema,
    querystring_schema,
    request_schema,
    success,
)
from handlers.openapi.respond import respond
from handlers.schemas import responses as out
from handlers.schemas.users import (
    AdminStepUpSchema,
    AdminUpdateSchema,
    ChangePasswordSchema,
    DeactivateMeSchema,
    ListUsersQuerySchema,
    ProfileUpdateSchema,
    UserIdPathSchema,
)
from models.users import User
from server.core.errors import (
    AccountLocked,
    CurrentPasswordIncorrect,
    EmailTaken,
    InvalidId,
    LastAdmin,
    UserNotFound,
)
from server.core.factor_errors import MfaCodeIncorrect, PasskeyRejected, ReauthRequired
from server.core.keys import CLOCK, CONFIG, DATA, NOW
from server.db import DB
from server.http.request import AUDIT
from server.mail.sender import MAILER
from server.services import credentials, mfa_admin, step_up, totp, users
from server.services.totp import FactorStatus


class _WithFactors:
    """The user as GET /users/me shows it: every field of the user, plus `mfa`."""

    __slots__ = ("_user", "mfa")

    def __init__(self, user: User, mfa: FactorStatus) -> None:
        self._user, self.mfa = user, mfa

    def __getattr__(self, name: str) -> Any:
        return getattr(self._user, name)


ADMIN_STEP_UP = (
    "Step-up (issue 16): unless the admin signed in or re-authenticated (POST /auth/reauth) "
    "within security.reauth_window, the body must carry `currentPassword` and, when the "
    "admin has a second factor, a current `code` or a `passkey` assertion (answering POST "
    "/auth/reauth/passkey/options; checked under the login lockout); else "
    "401 REAUTH_REQUIRED.")
LOCKED = AccountLocked(extra={"retryAfter": 7200})  # wrong step-up codes count, as at login
STEP_UP_ERRORS = (ReauthRequired, CurrentPasswordIncorrect, MfaCodeIncorrect, PasskeyRejected,
                  LOCKED)


async def _admin_step_up(request: web.Request, ctx: AuthContext) -> None:
    app, data = request.app, request[DATA]
    await step_up.require_admin(app[DB], app[CONFIG], app[MAILER], ctx.user, ctx.session_id,
                                data.get("currentPassword"), data.get("code"), app[CLOCK],
                                request[AUDIT], passkey=data.get("passkey"))


class UsersHandler:
    @docs(tags=["users"], summary="Get the signed-in user's profile",
          description="`mfa` says which second factors are set (never a secret).")
    @success(out.UserResponseSchema, description="The signed-in user")
    @requires()
    @enrolment_route
    async def get_me(self, request: web.Request, ctx: AuthContext) -> web.Response:
        return respond(request, {"user": _WithFactors(ctx.user, totp.status(ctx.user))})

    @docs(tags=["users"], summary="Update the signed-in user's profile",
          description="Changing `email` needs `currentPassword` and spends the credential "
                      "rate-limit budget. The new address becomes `pendingEmail` and turns "
                      "into the sign-in email only when the link mailed to it is followed "
                      "(GET /auth/verify-email/{token}); until then the current address "
                      "still signs in, and it is told of the request at once. An address "
                      "that belongs to another account gets the same answer (its owner is "
                      "told instead). Outstanding reset and verification links stop working.")
    @request_schema(ProfileUpdateSchema)
    @success(out.UserResponseSchema, description="The updated user",
             example=out.user_example("Profile updated successfully"))
    @errors(CurrentPasswordIncorrect, ReauthRequired, MfaCodeIncorrect, PasskeyRejected,
            LOCKED)
    @requires()
    async def update_me(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app, validated = request.app, request[DATA]
        data = {k: v for k, v in validated.items() if k not in ("code", "passkey")}
        if "email" in data:
            await step_up.require_recent(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                         ctx.session_id, validated.get("code"), app[CLOCK],
                                         request[AUDIT], passkey=validated.get("passkey"))
        user = await users.update_profile(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                          ctx.session_id, data, request[NOW],
                                          request[AUDIT])
        return respond(request, {"user": user}, message="Profile updated successfully")

    @docs(tags=["users"], summary="Change the signed-in user's password",
          description="Every other session of the user ends; this one stays signed in. "
                      "Outstanding reset and verification links stop working; the account's "
                      "address gets a notice.")
    @request_schema(ChangePasswordSchema)
    @success(out.MessageResponseSchema, description="Changed; other sessions ended",
             example=out.message_example("Password changed successfully"))
    @errors(CurrentPasswordIncorrect, ReauthRequired, MfaCodeIncorrect, PasskeyRejected,
            LOCKED)
    @requires()
    async def change_password(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app, data = request.app, request[DATA]
        await step_up.require_recent(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                     ctx.session_id, data.get("code"), app[CLOCK],
                                     request[AUDIT], passkey=data.get("passkey"))
        await credentials.change_password(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                          ctx.session_id, data["currentPassword"],
                                          data["newPassword"], request[NOW], request[AUDIT])
        return respond(request, message="Password changed successfully")

    @docs(tags=["users"], summary="Deactivate the signed-in user's account",
          description="Needs `currentPassword` in a JSON body. Every session ends; signing "
                      "in then answers 403.")
    @request_schema(DeactivateMeSchema)
    @success(out.MessageResponseSchema, description="Deactivated; sessions ended",
             example=out.message_example("Account deactivated successfully"))
    @errors(CurrentPasswordIncorrect, LastAdmin, ReauthRequired, MfaCodeIncorrect,
            PasskeyRejected, LOCKED)
    @requires()
    async def deactivate_me(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app = request.app
        await step_up.require_recent(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                     ctx.session_id, request[DATA].get("code"), app[CLOCK],
                                     request[AUDIT], passkey=request[DATA].get("passkey"))
        await users.deactivate_self(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                    request[DATA]["currentPassword"], request[NOW],
                                    request[AUDIT])
        return respond(request, message="Account deactivated successfully")

    @docs(tags=["users"], summary="List users (admin, moderator)",
          description="search: every word must occur in the first name, last name or "
                      "email (plain text, case-insensitive).")
    @querystring_schema(ListUsersQuerySchema)
    @success(out.UsersPageResponseSchema, description="One page of users")
    @requires(*STAFF)
    async def list_users(self, request: web.Request, ctx: AuthContext) -> web.Response:
        q = request[DATA]
        page = await users.list_users(
            request.app[DB], page=q["page"], limit=q["limit"], sort=q["sort"],
            role=q.get("role"), is_active=q.get("isActive"), search=q.get("search"))
        return respond(request, {"users": page.users, "pagination": page})

    @docs(tags=["users"], summary="Get one user (admin, moderator)")
    @match_info_schema(UserIdPathSchema)
    @success(out.UserResponseSchema, description="The user")
    @errors(InvalidId, UserNotFound)
    @requires(*STAFF)
    async def get_user(self, request: web.Request, ctx: AuthContext) -> web.Response:
        user = await users.get_user(request.app[DB], request[DATA]["id"])
        return respond(request, {"user": user})

    @docs(tags=["users"], summary="Update a user, their role or active state (admin)",
          description="Deactivation ends the user's sessions. The last active admin cannot "
                      "be demoted or deactivated. " + ADMIN_STEP_UP)
    @match_info_schema(UserIdPathSchema)
    @request_schema(AdminUpdateSchema)
    @success(out.UserResponseSchema, description="The updated user",
             example=out.user_example("User updated successfully"))
    @errors(InvalidId, UserNotFound, LastAdmin, EmailTaken, *STEP_UP_ERRORS)
    @requires(*ADMIN)
    async def update_user(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app, validated = request.app, request[DATA]
        data = dict(validated)
        password, code = data.pop("currentPassword", None), data.pop("code", None)
        passkey = data.pop("passkey", None)
        if step_up.ADMIN_SENSITIVE & data.keys():
            await step_up.require_admin(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                        ctx.session_id, password, code, app[CLOCK],
                                        request[AUDIT], passkey=passkey)
        user = await users.admin_update(app[DB], app[CONFIG], app[MAILER], data.pop("id"),
                                        data, request[NOW], request[AUDIT], ctx.user.id)
        return respond(request, {"user": user}, message="User updated successfully")

    @docs(tags=["users"], summary="Delete a user and their sessions for good (admin)",
          description="The last active admin cannot be deleted. The JSON body is optional: "
                      + ADMIN_STEP_UP)
    @match_info_schema(UserIdPathSchema)
    @request_schema(AdminStepUpSchema)
    @success(out.MessageResponseSchema, description="Deleted for good",
             example=out.message_example("User deleted"))
    @errors(InvalidId, UserNotFound, LastAdmin, *STEP_UP_ERRORS)
    @requires(*ADMIN)
    async def delete_user(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app = request.app
        await _admin_step_up(request, ctx)
        await users.delete_user(app[DB], request[DATA]["id"], request[NOW], request[AUDIT],
                                ctx.user.id)
        return respond(request, message="User deleted")

    @docs(tags=["users"], summary="Reset a user's second factors (admin)",
          description="Removes every second factor of the user (authenticator app, recovery "
                      "codes, passkeys) and ends all of the user's sessions (one may have "
                      "been signed in with the factor being reset); the password alone "
                      "signs in again. The user is mailed a notice when a factor was "
                      "removed; the reset is logged as a security event naming the admin. "
                      "Resetting a user without a factor still ends the sessions. The JSON "
                      "body is optional: " + ADMIN_STEP_UP)
    @match_info_schema(UserIdPathSchema)
    @request_schema(AdminStepUpSchema)
    @success(out.MessageResponseSchema, description="Reset; the user's sessions ended",
             example=out.message_example("Second factors reset"))
    @errors(InvalidId, UserNotFound, *STEP_UP_ERRORS)
    @requires(*ADMIN)
    async def reset_factors(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app = request.app
        await _admin_step_up(request, ctx)
        await mfa_admin.reset_factors(app[DB], app[MAILER], request[DATA]["id"], request[NOW],
                                      request[AUDIT], ctx.user.id)
        return respond(request, message="Second factors reset")

