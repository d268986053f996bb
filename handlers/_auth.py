"""Per-route authentication: `await require_user(request, roles=...)` -> AuthContext."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from handlers.openapi.decorators import bearer_auth
from models.users import User, find_by_session
from server.core.errors import AppError, Forbidden, InvalidToken, TokenMissing
from server.core.factor_errors import MfaEnrolmentRequired
from server.core.keys import CLIENT_IP, CLOCK, CONFIG, LOG_PATH, NOW, REQUEST_ID, USER_ID
from server.db import DB
from server.observability.logs import security_event
from server.security import bearer_token, decode_access_token
from server.signing import KEYRING, SigningKey


@dataclass(frozen=True, slots=True)
class AuthContext:
    """The signed-in user of a request and the session its access token belongs to."""

    user: User
    session_id: str
    token_id: str


async def require_user(request: web.Request,
                       roles: Iterable[str] | None = None) -> AuthContext:
    """Authenticate the bearer token with ONE database lookup that proves its session is live
    and loads the (active) user. Raises TokenMissing / InvalidToken / TokenExpired (401) or
    Forbidden (403) when the user's role is not in `roles`, or MfaEnrolmentRequired (403)
    when the role must have a second factor and has none (outside enrolment routes); each
    denial is logged."""
    try:
        return await _authenticate(request, tuple(roles) if roles is not None else None)
    except AppError as exc:
        security_event("auth_denied", request[REQUEST_ID], logging.WARNING,
                       status=exc.status, code=exc.code, ip=request[CLIENT_IP],
                       path=request[LOG_PATH], userId=request.get(USER_ID))
        raise


def required_bearer(request: web.Request) -> str:
    """The request's bearer token. Raises TokenMissing without one."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise TokenMissing()
    return token


async def _authenticate(request: web.Request, roles: tuple[str, ...] | None) -> AuthContext:
    app = request.app
    token = required_bearer(request)
    ring = app[KEYRING]
    keys = await ring.current(app[DB], request[NOW])
    claims = decode_access_token(app[CONFIG].jwt, token, request[NOW], ring=ring, keys=keys)
    # The session must still be live (logout, reset, deactivation end it at once) and the
    # user active: both are in this one indexed find_one by _id.
    user = await find_by_session(app[DB], claims.user_id, claims.session_id)
    if user is None:
        raise InvalidToken()
    request[USER_ID] = user.id
    if roles is not None and user.role not in roles:
        raise Forbidden()
    if user.role in app[CONFIG].security.mfa_required_roles \
            and not getattr(request.match_info.handler, ENROLMENT_MARK, False) \
            and not user.mfa_totp and not user.passkeys:
        raise MfaEnrolmentRequired()
    return AuthContext(user=user, session_id=claims.session_id, token_id=claims.token_id)


ENROLMENT_MARK = "__mfa_enrolment__"
F = TypeVar("F", bound=Callable[..., Any])


def enrolment_route(func: F) -> F:
    """Route option: reachable by an account that must enrol a second factor and has not
    yet (security.mfa_required_roles): enrolment itself, the profile, signing out."""
    setattr(func, ENROLMENT_MARK, True)
    return func


async def signing_key(request: web.Request) -> SigningKey:
    """The key that signs this request's new access token (the same on every worker), chosen
    by the clock now: a sign-in reads NOW before bcrypt, and a key may have started signing
    (or been stored by another worker) since."""
    ring, now = request.app[KEYRING], request.app[CLOCK]()
    return ring.signing_key(await ring.current(request.app[DB], now), now)


# Role sets for `@requires(...)`: who may read other users, who may change them.
STAFF = ("admin", "moderator")
ADMIN = ("admin",)

AuthedMethod = Callable[[Any, web.Request, AuthContext], Awaitable[web.StreamResponse]]
Method = Callable[[Any, web.Request], Awaitable[web.StreamResponse]]


def requires(*roles: str) -> Callable[[AuthedMethod], Method]:
    """Route option: only a signed-in user (whose role is one of `roles`, when given) reaches
    the handler method, which receives the AuthContext as a third argument. Others get 401 or
    403 `Insufficient permissions`; the OpenAPI document lists those responses."""

    def wrap(method: AuthedMethod) -> Method:
        @functools.wraps(method)
        async def checked(self: Any, request: web.Request) -> web.StreamResponse:
            ctx = await require_user(request, roles=roles or None)
            return await method(self, request, ctx)

        return bearer_auth(roles=bool(roles))(checked)

    return wrap
