"""The second-factor routes (under AUTH_PREFIX/mfa): TOTP enrolment and removal, recovery
codes, and completing a sign-in with a factor (issue 16)."""

from __future__ import annotations

from aiohttp import web

from handlers._auth import AuthContext, enrolment_route, requires, signing_key
from handlers._origin import same_origin_only
from handlers.auth import client_of, signed_in
from handlers.openapi import links
from handlers.openapi.decorators import docs, errors, request_schema, success
from handlers.openapi.respond import respond
from handlers.schemas import mfa as schemas
from handlers.schemas import responses as out
from server.core.errors import (
    AccountDeactivated,
    AccountLocked,
    BadCredentials,
    CurrentPasswordIncorrect,
)
from server.core.factor_errors import (
    InvalidMfaCode,
    InvalidMfaToken,
    InvalidPasskey,
    MfaAlreadyEnabled,
    MfaCodeIncorrect,
    MfaNotEnabled,
    MfaSetupMissing,
    PasskeyRejected,
    ReauthRequired,
)
from server.core.keys import CLOCK, CONFIG, DATA, NOW
from server.db import DB
from server.http.request import AUDIT
from server.mail.sender import MAILER
from server.services import auth, mfa_signin, step_up, totp

# A stale session's step-up (step_up.require_admin's rule) can answer these.
STEP_UP_ERRORS = (ReauthRequired, CurrentPasswordIncorrect, MfaCodeIncorrect,
                  PasskeyRejected, AccountLocked(extra={"retryAfter": 7200}))


async def _step_up(request: web.Request, ctx: AuthContext, action: str) -> None:
    """A sign-in within security.reauth_window, or the body's currentPassword (+ code or
    passkey when the account has a factor), checked under the lockout."""
    app, data = request.app, request[DATA]
    await step_up.require_admin(app[DB], app[CONFIG], app[MAILER], ctx.user, ctx.session_id,
                                data.get("currentPassword"), data.get("code"), app[CLOCK],
                                request[AUDIT], action, passkey=data.get("passkey"))


class MfaHandler:
    @docs(tags=["mfa"], summary="Start TOTP enrolment: a secret, its otpauth URI and QR code",
          description="The secret stays pending until POST /auth/mfa/totp/confirm (10 "
                      "minutes); a new setup replaces a pending one. After confirmation the "
                      "secret is never returned again.")
    @request_schema(schemas.StepUpSchema)
    @success(schemas.TotpSetupResponseSchema, description="Scan, then confirm with a code")
    @errors(MfaAlreadyEnabled, *STEP_UP_ERRORS)
    @requires()
    @enrolment_route
    async def totp_setup(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app = request.app
        await _step_up(request, ctx, "mfa_setup")
        setup = await totp.setup(app[DB], app[CONFIG], ctx.user, request[NOW], request[AUDIT])
        return respond(request, setup, message="Scan the QR code, then confirm with a code")

    @docs(tags=["mfa"], summary="Turn TOTP on with a code from the app; get recovery codes",
          description="Answers the 10 single-use recovery codes once (only their hashes are "
                      "stored). The account's address gets a notice.")
    @request_schema(schemas.TotpCodeSchema)
    @success(schemas.RecoveryCodesResponseSchema, description="Enabled")
    @errors(MfaCodeIncorrect, MfaSetupMissing, MfaAlreadyEnabled)
    @requires()
    @enrolment_route
    async def totp_confirm(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app = request.app
        codes = await totp.confirm(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                   request[DATA]["code"], request[NOW], request[AUDIT])
        return respond(request, {"recovery_codes": codes},
                       message="Two-factor authentication enabled")

    @docs(tags=["mfa"], summary="Replace the recovery codes (the old ones stop working)")
    @request_schema(schemas.StepUpSchema)
    @success(schemas.RecoveryCodesResponseSchema, description="New codes, shown once",
             example=out.message_example("Recovery codes regenerated",
                                         {"recoveryCodes": schemas.EXAMPLE_CODES}))
    @errors(MfaNotEnabled, *STEP_UP_ERRORS)
    @requires()
    async def regenerate_recovery_codes(self, request: web.Request,
                                        ctx: AuthContext) -> web.Response:
        # New codes are a second factor of their own: a stale token must not mint them.
        await _step_up(request, ctx, "recovery_codes")
        codes = await totp.regenerate_recovery_codes(request.app[DB], ctx.user, request[NOW],
                                                     request[AUDIT])
        return respond(request, {"recovery_codes": codes},
                       message="Recovery codes regenerated")

    @docs(tags=["mfa"], summary="Turn TOTP off (current password and a current code)",
          description="The recovery codes go too. The account's address gets a notice.")
    @request_schema(schemas.RemoveTotpSchema)
    @success(out.MessageResponseSchema, description="Removed",
             example=out.message_example("Two-factor authentication disabled"))
    @errors(MfaNotEnabled, CurrentPasswordIncorrect, MfaCodeIncorrect,
            AccountLocked(extra={"retryAfter": 7200}))
    @requires()
    async def totp_remove(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app, data = request.app, request[DATA]
        await step_up.remove_totp(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                  ctx.session_id, data["currentPassword"], data["code"],
                                  app[CLOCK], request[AUDIT])
        return respond(request, message="Two-factor authentication disabled")

    @docs(tags=["mfa"], summary="Re-authenticate the current session (step-up)",
          description="The password, and when the account has a second factor a current "
                      "`code` (TOTP) or a `passkey` assertion (answering POST "
                      "/auth/reauth/passkey/options from this session; amr [pwd, hwk] or "
                      "[pwd, swk]), checked and counted as at login (wrong ones lead to the "
                      "lockout). The session's auth_time becomes now (kept across refreshes): "
                      "password and email changes and account deletion are then allowed "
                      "without a code for security.reauth_window.")
    @request_schema(schemas.ReauthSchema)
    @success(schemas.ReauthResponseSchema, description="Re-authenticated")
    @errors(BadCredentials, InvalidMfaCode, InvalidPasskey,
            AccountLocked(extra={"retryAfter": 7200}))
    @requires()
    async def reauth(self, request: web.Request, ctx: AuthContext) -> web.Response:
        app, data = request.app, request[DATA]
        signed = await step_up.reauth(app[DB], app[CONFIG], app[MAILER], ctx.user,
                                      ctx.session_id, data["password"], data.get("code"),
                                      app[CLOCK], request[AUDIT], passkey=data.get("passkey"))
        token = auth.access_token(app[CONFIG], ctx.user, ctx.session_id, request[NOW],
                                  amr=signed.amr, auth_time=signed.auth_time,
                                  key=await signing_key(request))
        return respond(request, {"access_token": token}, message="Re-authenticated")

    @docs(tags=["mfa"], summary="Complete a sign-in with a code, recovery code or passkey",
          description="`mfaToken` comes from POST /auth/login and works once. Answers as a "
                      "login does (session, access token with amr [pwd, otp], refresh "
                      "cookie); with `passkey`, the assertion answering POST "
                      "/auth/mfa/passkeys/authenticate/options (amr [pwd, hwk] or [pwd, swk]). "
                      "A wrong code counts toward the account's lockout like a "
                      "wrong password; a code (or recovery code) is accepted once.")
    @request_schema(schemas.MfaVerifySchema)
    @success(out.LoginResponseSchema, sets_refresh_cookie=True, description="Signed in",
             links=links.LOGIN_LINKS)
    @errors(InvalidMfaToken, InvalidMfaCode, InvalidPasskey,
            AccountLocked(extra={"retryAfter": 7200}), AccountDeactivated)
    @same_origin_only
    async def verify(self, request: web.Request) -> web.Response:
        app, data = request.app, request[DATA]
        started = await mfa_signin.verify(app[DB], app[CONFIG], app[MAILER], data["mfaToken"],
                                          data.get("code"), data.get("recoveryCode"),
                                          app[CLOCK], passkey=data.get("passkey"),
                                          **client_of(request))
        return await signed_in(request, started, "Login successful")
