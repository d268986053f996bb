"""The passkey routes (issue 16): registration, list, rename and removal under
AUTH_PREFIX/mfa/passkeys; the second-factor options (the assertion then goes to POST
/auth/mfa/verify); passwordless sign-in under AUTH_PREFIX/passkeys."""

from __future__ import annotations

from aiohttp import web

from handlers._auth import AuthContext, enrolment_route, requires
from handlers._origin import same_origin_only
from handlers.auth import client_of, signed_in
from handlers.openapi import links
from handlers.openapi.decorators import docs, errors, match_info_schema, request_schema, success
from handlers.openapi.respond import respond
from handlers.schemas import passkeys as schemas
from handlers.schemas import responses as out
from handlers.schemas.auth import EmptySchema
from server.core.errors import AccountDeactivated, AccountLocked, CurrentPasswordIncorrect
from server.core.factor_errors import (
    InvalidMfaToken,
    InvalidPasskey,
    MfaCodeIncorrect,
    PasskeyChallengeInvalid,
    PasskeyLimitReached,
    PasskeyNotFound,
    PasskeyRejected,
    ReauthRequired,
)
from server.core.keys import CLOCK, CONFIG, DATA, NOW
from server.db import DB
from server.http.request import AUDIT
from server.mail.sender import MAILER
from server.services import passkey_reauth, passkey_signin, passkeys

LOCKED = AccountLocked(extra={"retryAfter": 7200})  # wrong step-up proofs count, as at login
_RECENT = ("Needs the session to have signed in within security.reauth_window, or "
           "`currentPassword` (and, when the account has a factor, a `code` or a `passkey` "
           "assertion answering POST /auth/reauth/passkey/options); else 401 "
           "REAUTH_REQUIRED.")


class PasskeyHandler:
    @docs(tags=["passkeys"], summary="Options to register a passkey (WebAuthn creation)",
          description="Pass `data.publicKey` to navigator.credentials.create({publicKey}) "
                      "(after PublicKeyCredential.parseCreationOptionsFromJSON). A discoverable "
                      "credential is asked for, so it can also sign in without a password. "
                      "The challenge works once, for 5 minutes. A user keeps at most 10 "
                      "passkeys (409 PASSKEY_LIMIT_REACHED).")
    @request_schema(EmptySchema)
    @success(schemas.CreationOptionsResponseSchema, description="Creation options")
    @errors(PasskeyLimitReached)
    @requires()
    @enrolment_route
    async def register_options(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app = request.app
        options = await passkeys.registration_options(app[DB], app[CONFIG], ctx.user,
                                                      request[NOW])
        return respond(request, {"public_key": options})

    @docs(tags=["passkeys"], summary="Register a passkey with the authenticator's answer",
          description=f"{_RECENT} The account's address gets a notice.")
    @request_schema(schemas.RegisterPasskeySchema)
    @success(schemas.PasskeyResponseSchema, description="Added")
    @errors(PasskeyRejected, PasskeyChallengeInvalid, PasskeyLimitReached,
            CurrentPasswordIncorrect, MfaCodeIncorrect, ReauthRequired, LOCKED)
    @requires()
    @enrolment_route
    async def register_verify(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app, data = request.app, request[DATA]
        await passkeys.require_recent(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                      ctx.session_id, data.get("currentPassword"),
                                      data.get("code"), app[CLOCK], request[AUDIT],
                                      "passkey_register", passkey=data.get("passkey"))
        added = await passkeys.register(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                        data["credential"], data.get("name"), request[NOW],
                                        request[AUDIT])
        return respond(request, {"passkey": added}, message="Passkey added")

    @docs(tags=["passkeys"], summary="The signed-in user's passkeys (never a key)")
    @success(schemas.PasskeyListResponseSchema, description="Passkeys, oldest first")
    @requires()
    @enrolment_route
    async def list_passkeys(self, request: web.Request, ctx: AuthContext) -> web.Response:
        found = await passkeys.list_of(request.app[DB], ctx.user)
        return respond(request, {"passkeys": found})

    @docs(tags=["passkeys"], summary="Rename a passkey")
    @match_info_schema(schemas.PasskeyPathSchema)
    @request_schema(schemas.RenamePasskeySchema)
    @success(out.MessageResponseSchema, description="Renamed",
             example=out.message_example("Passkey renamed"))
    @errors(PasskeyNotFound)
    @requires()
    async def rename(self, request: web.Request, ctx: AuthContext) -> web.Response:
        data = request[DATA]
        await passkeys.rename(request.app[DB], ctx.user, data["id"], data["name"],
                              request[NOW])
        return respond(request, message="Passkey renamed")

    @docs(tags=["passkeys"], summary="Remove a passkey",
          description=f"{_RECENT} The account's address gets a notice.")
    @match_info_schema(schemas.PasskeyPathSchema)
    @request_schema(schemas.RemovePasskeySchema)
    @success(out.MessageResponseSchema, description="Removed",
             example=out.message_example("Passkey removed"))
    @errors(PasskeyNotFound, PasskeyRejected, CurrentPasswordIncorrect, MfaCodeIncorrect,
            ReauthRequired, LOCKED)
    @requires()
    async def remove(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app, data = request.app, request[DATA]
        await passkeys.require_recent(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                      ctx.session_id, data.get("currentPassword"),
                                      data.get("code"), app[CLOCK], request[AUDIT],
                                      "passkey_remove", passkey=data.get("passkey"))
        await passkeys.remove(app[DB], app[MAILER], ctx.user, data["id"], request[NOW],
                              request[AUDIT])
        return respond(request, message="Passkey removed")

    @docs(tags=["passkeys"], summary="Options to complete a sign-in with a passkey",
          description="For an `mfaToken` whose login listed `passkey` among its factors: "
                      "pass `data.publicKey` to navigator.credentials.get({publicKey}), then "
                      "send the answer as `passkey` to POST /auth/mfa/verify.")
    @request_schema(schemas.MfaPasskeyOptionsSchema)
    @success(schemas.RequestOptionsResponseSchema, description="Request options")
    @errors(InvalidMfaToken)
    async def mfa_options(self, request: web.Request) -> web.Response:
        app = request.app
        options = await passkey_signin.mfa_options(app[DB], app[CONFIG],
                                                   request[DATA]["mfaToken"], app[CLOCK])
        return respond(request, {"public_key": options})

    @docs(tags=["passkeys"], summary="Options to step up (re-authenticate) with a passkey",
          description="For the signed-in user's passkeys: pass `data.publicKey` to "
                      "navigator.credentials.get({publicKey}), then send the answer as "
                      "`passkey` beside the password to POST /auth/reauth, or beside "
                      "`currentPassword` to a sensitive change (password, email, deletion, "
                      "a factor's removal, an admin's change). The challenge works once, for "
                      "5 minutes, for this user and this session only.")
    @request_schema(EmptySchema)
    @success(schemas.RequestOptionsResponseSchema, description="Request options")
    @errors(PasskeyNotFound)
    @requires()
    async def reauth_options(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app = request.app
        options = await passkey_reauth.options(app[DB], app[CONFIG], ctx.user, ctx.session_id,
                                               request[NOW])
        return respond(request, {"public_key": options})

    @docs(tags=["passkeys"], summary="Options to sign in with a passkey alone (passwordless)",
          description="No email: `allowCredentials` is empty, the authenticator offers the "
                      "passkeys it holds for this site. The challenge works once, 5 minutes.")
    @request_schema(EmptySchema)
    @success(schemas.RequestOptionsResponseSchema, description="Request options")
    async def passwordless_options(self, request: web.Request) -> web.Response:
        app = request.app
        options = await passkey_signin.passwordless_options(app[DB], app[CONFIG], app[CLOCK])
        return respond(request, {"public_key": options})

    @docs(tags=["passkeys"], summary="Sign in with a passkey alone (passwordless)",
          description="The authenticator's userHandle names the account; the passkey must be "
                      "that account's and verify the user. Answers as a login (session, "
                      "access token with amr [hwk] or [swk], refresh cookie).")
    @request_schema(schemas.PasskeySignInSchema)
    @success(out.LoginResponseSchema, sets_refresh_cookie=True, description="Signed in",
             links=links.LOGIN_LINKS)
    @errors(InvalidPasskey, AccountLocked(extra={"retryAfter": 7200}), AccountDeactivated)
    @same_origin_only
    async def passwordless_verify(self, request: web.Request) -> web.Response:
        app = request.app
        started = await passkey_signin.passwordless(app[DB], app[CONFIG], app[MAILER],
                                                    request[DATA]["credential"], app[CLOCK],
                                                    **client_of(request))
        return await signed_in(request, started, "Login successful")
