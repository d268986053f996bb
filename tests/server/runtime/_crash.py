"""Helpers of the crash-safety process test: a small HTTP client and the database invariants."""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from server.security import token_hash
from tests._app import bearer
from tests.conftest import SmtpSink

AUTH = "/api/v1/auth"
PASSWORD = "Str0ng!Passw0rd"
NEW_PASSWORD = "N3w!Passw0rd-ok"
VERIFY, RESET = "Verify your email address", "Reset your password"
_TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")
_MESSAGE_ID = re.compile(r"<([0-9a-f]{24})\.gatehouse@")


@dataclass
class Reply:
    status: int  # 0: the connection died (the worker was killed mid-request)
    body: dict[str, Any] = field(default_factory=dict)
    refresh: str | None = None


class Api:
    """JSON calls on a fresh connection each (urllib), reading the refresh cookie."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             access: str | None = None) -> Reply:
        headers = {"Content-Type": "application/json"}
        if access:
            headers.update(bearer(access))
        data = json.dumps(body if body is not None else {}).encode()
        request = urllib.request.Request(self.url + path, data=data,  # noqa: S310 - http
                                         headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                return self._reply(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as exc:
            return self._reply(exc.code, exc.read(), exc.headers)
        except (OSError, http.client.HTTPException):
            return Reply(0)

    @staticmethod
    def _reply(status: int, raw: bytes, headers: Any) -> Reply:
        cookie: SimpleCookie = SimpleCookie()
        for value in headers.get_all("Set-Cookie") or []:
            cookie.load(value)
        refresh = cookie["refreshToken"].value if "refreshToken" in cookie else None
        return Reply(status, json.loads(raw) if raw else {}, refresh or None)

    def register(self, email: str) -> Reply:
        return self.call("POST", f"{AUTH}/register", {
            "firstName": "Crash", "lastName": "Test", "email": email, "password": PASSWORD})

    def login(self, email: str, password: str = PASSWORD) -> Reply:
        return self.call("POST", f"{AUTH}/login", {"email": email, "password": password})

    def refresh(self, token: str) -> Reply:
        return self.call("POST", f"{AUTH}/refresh-token", {"refreshToken": token})

    def forgot(self, email: str) -> Reply:
        return self.call("POST", f"{AUTH}/forgot-password", {"email": email})

    def change_password(self, signed_in: Reply) -> Reply:
        return self.call("POST", "/api/v1/users/me/password",
                         {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                         access=signed_in.body["data"]["accessToken"])

    def reset(self, token: str, password: str = NEW_PASSWORD) -> Reply:
        return self.call("POST", f"{AUTH}/reset-password/{token}", {"password": password})


@dataclass(frozen=True)
class Delivery:
    outbox_id: str
    to: str
    subject: str
    token: str


def deliveries(sink: SmtpSink) -> list[Delivery]:
    """Every message the SMTP sink accepted, duplicates included, in arrival order."""
    found = []
    for message in list(sink.messages):
        outbox_id = _MESSAGE_ID.search(str(message["Message-ID"]))
        token = _TOKEN.search(SmtpSink.parts(message)[0])
        assert outbox_id is not None
        assert token is not None
        found.append(Delivery(outbox_id.group(1), str(message["To"]), str(message["Subject"]),
                              token.group(1)))
    return found


def held_hashes(db: Any) -> set[str]:
    """Every verification and reset token hash some user holds right now."""
    hashes = set()
    for user in db.users.find({}, {"emailVerificationToken": 1, "passwordResetToken": 1}):
        hashes |= {user.get("emailVerificationToken"), user.get("passwordResetToken")}
    return hashes - {None}


def wanted_pending(db: Any) -> list[str]:
    """Queued messages whose link still works (a user holds its token): mail still owed."""
    held = held_hashes(db)
    owed = []
    for message in db.outbox.find({"status": "pending"}):
        token = _TOKEN.search(message.get("text", ""))
        if token is not None and token_hash(token.group(1)) in held:
            owed.append(str(message["_id"]))
    return owed


def violations(db: Any, sink: SmtpSink, cap: int, duplicates_allowed: set[str]) -> list[str]:
    """Half states left in the database and the mail sink: empty when there are none.
    (Every flow of the crash test mails each recipient one message of each kind.)"""
    sent = deliveries(sink)
    return (_user_violations(db, sent, cap)
            + _mail_violations(db, sent, duplicates_allowed))


def _user_violations(db: Any, sent: list[Delivery], cap: int) -> list[str]:
    found = []
    mailed = {(d.to, d.subject, token_hash(d.token)) for d in sent}
    for user in db.users.find({}):
        email = user["email"]
        verification = user.get("emailVerificationToken")
        # A password change voids the verification link (issue 13 #4): the user resends.
        voided = verification is None and user.get("credentialVersion", 0) > 0
        if not user.get("isEmailVerified") and not voided \
                and (email, VERIFY, verification) not in mailed:
            found.append(f"{email}: unverified and no delivered mail carries its link")
        reset = user.get("passwordResetToken")
        if reset is not None and (email, RESET, reset) not in mailed:
            found.append(f"{email}: holds a reset token no delivered mail carries")
        listed = user.get("activeSessions") or []
        stored = db.sessions.count_documents({"user": user["_id"]})
        if len(listed) > cap or stored > cap:
            found.append(f"{email}: {len(listed)} listed / {stored} stored sessions, "
                         f"cap {cap}")
    return found


def _mail_violations(db: Any, sent: list[Delivery], duplicates_allowed: set[str]) -> list[str]:
    found = []
    records = {str(m["_id"]): m for m in db.outbox.find({})}
    times = Counter(d.outbox_id for d in sent)
    kinds = Counter((d.to, d.subject) for d in {(d.outbox_id, d.to, d.subject): d
                                                for d in sent}.values())
    found += [f"{to}: {count} different '{subject}' mails" for (to, subject), count
              in kinds.items() if count > 1]
    for outbox_id, count in times.items():
        status = records.get(outbox_id, {}).get("status")
        if status != "sent":
            found.append(f"outbox {outbox_id}: delivered but recorded as {status}")
        if count > 1 and outbox_id not in duplicates_allowed:
            found.append(f"outbox {outbox_id}: delivered {count} times")
    for outbox_id, record in records.items():
        if record["status"] == "sent" and outbox_id not in times:
            found.append(f"outbox {outbox_id} to {record['to']}: marked sent, never delivered")
    found += [f"outbox {outbox_id}: still owed" for outbox_id in wanted_pending(db)]
    return found
