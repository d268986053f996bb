"""Password checks under the lockout rules: wait for a free attempt slot, check while holding
it, settle a failure (locking at the limit) or give the slot back when the request dies.

An account's count lives on its user document, an unknown address's in login_failures under
a keyed hash; both go through the same steps here, so they answer alike (issue 13 item 10).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, Protocol, TypeVar

from models import login_failures, users
from models.attempts import Attempts
from models.users import User
from server.core.config import Config, SecurityConfig
from server.core.emails import canonical_email
from server.core.errors import AccountLocked, AppError, BadCredentials, ServiceUnavailable
from server.mail.messages import account_locked_notice
from server.observability.audit import Audit
from server.security import Match, address_digest, match_password

Clock = Callable[[], datetime]
T = TypeVar("T")
# Waiting for a slot: every slot is held by a check in flight, so one frees when a check
# settles. Polls start quick and back off to about one bcrypt check at cost 12 (~0.25 s).
FIRST_PAUSE_S = 0.02
LONGEST_PAUSE_S = 0.25


class Ledger(Protocol):
    """Where one login attempt (`attempt`, a fresh id per request) is counted."""

    @property
    def user_id(self) -> str | None: ...  # for the logs; None for an unknown address

    async def reserve(self, now: datetime) -> Attempts | None: ...
    async def fail(self, now: datetime) -> Attempts: ...
    async def release(self) -> None: ...
    async def locked(self, until: datetime) -> None: ...  # this attempt set the lock


@dataclass(slots=True)
class AccountLedger:
    """The count on a user document; `reserve` also loads the user (None: unknown email).
    `look` reads the user first, and the first reservation then writes on that read."""

    db: Any
    email: str
    attempt: str
    rules: SecurityConfig
    mailer: Any = None  # tells the owner of a locked account
    user: User | None = None
    read: users.LoginRead | None = None  # the look's read, until a reservation uses it

    @property
    def user_id(self) -> str | None:
        return self.user.id if self.user is not None else None

    async def look(self) -> users.LoginRead | None:
        self.read = await users.read_for_login(self.db, self.email)
        self.user = self.read.user if self.read is not None else None
        return self.read

    async def reserve(self, now: datetime) -> Attempts | None:
        read, self.read = self.read, None
        found = await users.reserve_login_attempt(self.db, self.email, self.attempt, now,
                                                  self.rules, read=read)
        if found is None:
            return None
        self.user, state = found
        return state

    async def fail(self, now: datetime) -> Attempts:
        return await users.fail_login_attempt(self.db, str(self.user_id), self.attempt, now,
                                              self.rules)

    async def release(self) -> None:
        # By email: a request that died inside `reserve` may hold a slot without the user.
        await users.release_login_attempt(self.db, self.email, self.attempt)

    async def locked(self, until: datetime) -> None:
        if self.mailer is not None and self.user is not None:
            await self.mailer.send(account_locked_notice(self.user.email, until))


@dataclass(frozen=True, slots=True)
class AddressLedger:
    """The count of an address with no account, under a keyed hash of the address."""

    db: Any
    key: str
    attempt: str
    rules: SecurityConfig
    user_id: str | None = None

    @classmethod
    def of(cls, db: Any, config: Config, email: str, attempt: str) -> AddressLedger:
        key = address_digest(config.jwt.secret, canonical_email(email))
        return cls(db, key, attempt, config.security)

    async def reserve(self, now: datetime) -> Attempts:
        return await login_failures.reserve(self.db, self.key, self.attempt, now, self.rules)

    async def fail(self, now: datetime) -> Attempts:
        return await login_failures.fail(self.db, self.key, self.attempt, now, self.rules)

    async def release(self) -> None:
        await login_failures.release(self.db, self.key, self.attempt)

    async def locked(self, until: datetime) -> None:
        pass  # nobody to tell


@contextlib.asynccontextmanager
async def released_if_dead(ledger: Ledger) -> AsyncIterator[None]:
    """Give the attempt's slot back when the request dies inside (cancelled, database
    error): no answer leaves, so nothing was learnt. Best effort; the lease remains. An
    AppError is an answer (its attempt is settled already) and passes untouched."""
    try:
        yield
    except AppError:
        raise
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.shield(ledger.release())
        raise


async def _landed(update: Awaitable[T]) -> T:
    """Await a database update to its end even when the request is cancelled meanwhile: the
    driver sends it anyway, and the release that follows the cancellation must reach the
    database after it, or it frees nothing and the slot stays held until its lease ends."""
    task = asyncio.ensure_future(update)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


async def take_slot(ledger: Ledger, clock: Clock, config: Config, audit: Audit) -> bool:
    """Wait until `ledger` gives this attempt a slot; False when it does not know the
    address. Raises AccountLocked while a lock runs (never for checks merely in flight) and
    ServiceUnavailable if no slot frees within one lease."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + config.security.login_attempt_lease.total_seconds()
    pause = FIRST_PAUSE_S
    while True:
        now = clock()
        state = await _landed(ledger.reserve(now))
        if state is None:
            return False
        if state.granted:
            return True
        if state.locked_at(now):
            failed(audit, ledger.user_id, "locked")
            raise locked_error(state, now, config)
        if loop.time() + pause > give_up:
            raise ServiceUnavailable()
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE_S)


async def check_password(ledger: Ledger, password: str, hashed: str | None, clock: Clock,
                         config: Config, audit: Audit, reason: str) -> Match:
    """With a slot held, check `password` (a dummy hash of the same cost when `hashed` is
    None). A wrong one is settled as a failure, locking at the limit, and raises
    BadCredentials; the right one keeps the slot for the caller to settle and says how it
    matched (Match.RAW: a hash from before NFC normalisation, to replace). Run it inside
    released_if_dead."""
    matched = await match_password(password, hashed, config.security.bcrypt_rounds)
    if matched is not Match.NONE:
        return matched
    await settle_failure(ledger, clock, audit, reason)
    raise BadCredentials()


async def check_before_slot(account: AccountLedger, read: users.LoginRead, password: str,
                            clock: Clock, config: Config, audit: Audit, reason: str) -> Match:
    """Check the password of an account `read` quiet (no failure, lock or check in flight:
    models/attempts.py is_quiet) before taking a slot, and say how it matched; the caller
    starts the session only if the account is still as read, else takes a slot first.
    A wrong password is answered only as a check holding a slot is: it waits for a slot
    (AccountLocked while a lock runs), settles it as a failure and raises BadCredentials.
    So however many guesses run at once, no more than max_login_attempts are answered 401,
    and a right one among them wins only while nothing else has touched the account."""
    matched = await match_password(password, read.user.password_hash,
                                   config.security.bcrypt_rounds)
    if matched is not Match.NONE:
        return matched
    if not await take_slot(account, clock, config, audit):
        raise BadCredentials()  # the account was deleted meanwhile
    await settle_failure(account, clock, audit, reason)
    raise BadCredentials()


async def settle_failure(ledger: Ledger, clock: Clock, audit: Audit, reason: str) -> None:
    """Settle the slot held by a failed check (a wrong password or second-factor code) as a
    failure, locking at the limit and telling the owner; the caller raises its error."""
    state = await ledger.fail(clock())
    if state.locked_now:
        audit.event("account_locked", metric="lockout", level=logging.WARNING,
                    userId=ledger.user_id, known=ledger.user_id is not None,
                    until=state.lock_until.isoformat() if state.lock_until else None)
        if state.lock_until is not None:
            await ledger.locked(state.lock_until)
    failed(audit, ledger.user_id, reason)


async def reject_unknown(db: Any, config: Config, email: str, password: str, attempt: str,
                         clock: Clock, audit: Audit) -> NoReturn:
    """An address with no account: counted, checked against the dummy hash and answered
    exactly as a known account's wrong password. Always raises (BadCredentials or
    AccountLocked)."""
    ledger = AddressLedger.of(db, config, email, attempt)
    async with released_if_dead(ledger):
        await take_slot(ledger, clock, config, audit)
        await check_password(ledger, password, None, clock, config, audit, "unknown_email")
    raise BadCredentials()  # not reached: a dummy hash never verifies


def failed(audit: Audit, user_id: str | None, reason: str) -> None:
    audit.event("login_failed", metric="login_failed", level=logging.WARNING,
                userId=user_id, reason=reason)


def locked_error(state: Attempts, now: datetime, config: Config) -> AccountLocked:
    """423 with the seconds the lock has left in Retry-After and the body."""
    if state.lock_until is not None and state.lock_until > now:
        seconds = math.ceil((state.lock_until - now).total_seconds())
    else:
        seconds = math.ceil(config.security.lock_duration.total_seconds())
    return AccountLocked(headers={"Retry-After": str(max(seconds, 1))},
                         extra={"retryAfter": max(seconds, 1)})
