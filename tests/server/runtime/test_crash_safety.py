"""kill -9 of a worker between any two database writes of a flow leaves no half state.

`run.py` runs as a real process with two workers whose database connections go through
tests/server/runtime/_dbproxy.py, which SIGKILLs the worker that sends a chosen command, right after
the database executed it (or right before). So every crash lands at a known point between
two writes of register, login, refresh, forgot/reset password or the mail sender, and the
test then reads the database with pymongo and the SMTP sink's deliveries for invariants:
  - every unverified user has a delivered mail carrying its current verification link, and
    every stored reset token was mailed;
  - no user lists or stores more sessions than security.max_sessions;
  - every delivered message is recorded as sent, every sent one was delivered, none is
    still owed, and none was delivered twice (a crash between the SMTP server's acceptance
    and the outbox update is the one documented redelivery, with the same Message-ID).
The supervisor's crash-loop back-off grows with each young death, so the kills are split
over three short-lived services (four at most each).
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from tests._process import Service, alive, wait_for, write_config
from tests.conftest import SmtpSink
from tests.server.runtime._crash import (
    AUTH,
    NEW_PASSWORD,
    RESET,
    Api,
    Reply,
    deliveries,
    violations,
    wanted_pending,
)
from tests.server.runtime._dbproxy import MongoProxy, Trap

pytestmark = pytest.mark.process

CAP = 3  # security.max_sessions here: fewer logins to reach it
LEASE = "6s"  # mail.claim_lease: how long a dead sender's claim holds a message
DRAIN_S = 45.0


WRITES = ("findAndModify", "update")


def sets(name: str) -> Callable[[dict[str, Any]], bool]:
    """A findAndModify or update whose change $sets `name` to a value."""

    def check(command: dict[str, Any]) -> bool:
        changes = [command.get("update"), *(u["u"] for u in command.get("updates", []))]
        return any(isinstance(c, dict) and c.get("$set", {}).get(name) is not None
                   for c in changes)

    return check


def marks_sent(db: Any, to: str) -> Callable[[dict[str, Any]], bool]:
    """An outbox update recording the delivery of a message to `to`."""

    def check(command: dict[str, Any]) -> bool:
        (update,) = command["updates"]
        if update["u"].get("$set", {}).get("status") != "sent":
            return False
        message = db.outbox.find_one({"_id": update["q"]["_id"]}, {"to": 1})
        return message is not None and message["to"] == to

    return check


def claims_for(db: Any, to: str) -> Callable[[dict[str, Any]], bool]:
    """An outbox update that claims (stamps a `claim` on) the message to `to`."""

    def check(command: dict[str, Any]) -> bool:
        (update,) = command["updates"]
        if not update["u"].get("$set", {}).get("claim"):
            return False
        message = db.outbox.find_one({"_id": update["q"]["_id"]}, {"to": 1})
        return message is not None and message["to"] == to

    return check


def pushes(name: str) -> Callable[[dict[str, Any]], bool]:
    """A findAndModify or update whose change $pushes to `name`."""

    def check(command: dict[str, Any]) -> bool:
        changes = [command.get("update"), *(u["u"] for u in command.get("updates", []))]
        return any(isinstance(c, dict) and name in c.get("$push", {}) for c in changes)

    return check


@dataclass
class Run:
    """One service (two workers) behind the proxy, on a fresh database, and its mail sink."""

    service: Service
    proxy: MongoProxy
    sink: SmtpSink
    db: Any
    api: Api
    duplicates_allowed: set[str] = field(default_factory=set)

    def settle(self, mail: bool = True) -> None:
        """A worker serves and (with `mail`) no mail is owed: a kill then hits the chosen flow
        only, never a sender in the middle of some other delivery."""
        wait_for(lambda: [p for p in self.service.ready_worker_pids() if alive(p)], 30,
                 "a serving worker")
        if mail:
            wait_for(lambda: not wanted_pending(self.db), DRAIN_S, "queued mail to go out")

    def crash(self, trap: Trap, action: Callable[[], Reply], *, mail: bool = True) -> Reply:
        """Run `action` with `trap` armed; the trap must fire (the flow reached that point)."""
        self.settle(mail)
        self.proxy.arm(trap)
        reply = action()
        fired = trap.fired.wait(10)
        self.proxy.disarm()
        assert fired, f"the flow never sent {trap.name} {trap.collection}"
        assert trap.pid in self.service.worker_pids() | {e["worker_pid"] for e in
                                                          self.service.events("worker_exited")}
        return reply

    def check(self) -> None:
        self.settle()
        found = violations(self.db, self.sink, CAP, self.duplicates_allowed)
        assert not found, "half states:\n" + "\n".join(found)

    def mailed_token(self, to: str, subject: str) -> str:
        found = wait_for(lambda: [d.token for d in deliveries(self.sink)
                                  if d.to == to and d.subject == subject], 10, "a mail")
        return str(found[-1])


@pytest.fixture
def start(tmp_path: Path, mongo_uri: str) -> Iterator[Callable[[], Run]]:
    parts = urllib.parse.urlsplit(mongo_uri)
    if parts.username or parts.hostname is None or parts.port is None:
        pytest.skip("the proxy forwards to a plain host:port database")
    client: MongoClient[Any] = MongoClient(mongo_uri, serverSelectionTimeoutMS=2000)
    sink, proxy = SmtpSink(), MongoProxy((parts.hostname, parts.port)).start()
    sink.start()
    runs: list[Run] = []

    def build() -> Run:
        name = f"gh_crash_{uuid.uuid4().hex[:12]}"
        config = write_config(
            tmp_path / f"{name}.yaml", mongodb={"uri": proxy.uri, "database": name},
            security={"max_sessions": CAP},
            mail={"backend": "smtp", "poll_interval": "200ms", "claim_lease": LEASE,
                  "smtp": {"host": "127.0.0.1", "port": sink.port, "starttls": False,
                           "timeout": "1s"}})
        service = Service(tmp_path, config, workers=2)
        runs.append(Run(service, proxy, sink, client[name], Api(service.url)))
        service.start()
        return runs[-1]

    try:
        yield build
    finally:
        for run in runs:
            run.service.close()
            client.drop_database(run.db.name)
        proxy.close()
        sink.stop()
        client.close()


def test_register_and_forgot_password_never_leave_a_user_without_its_mail(
        start: Callable[[], Run]) -> None:
    run = start()
    api = run.api
    # Killed once the user document is written: its verification mail must still go out.
    assert run.crash(Trap("insert", "users"), lambda: api.register("ann@example.com")).status == 0
    assert api.register("ann@example.com").status == 409
    # Killed once a mail is queued; the client tries again.
    queued_for_bob = Trap("insert", "outbox",
                          command=lambda c: c["documents"][0]["to"] == "bob@example.com")
    run.crash(queued_for_bob, lambda: api.register("bob@example.com"))
    assert api.register("bob@example.com").status in (201, 409)
    # Killed once the session is written.
    run.crash(Trap("insert", "sessions"), lambda: api.register("carl@example.com"))
    # forgot-password killed once the reset token is stored: that token was mailed.
    assert api.register("dana@example.com").status == 201
    reset_stored = Trap(WRITES, "users", command=sets("passwordResetToken"))
    assert run.crash(reset_stored, lambda: api.forgot("dana@example.com")).status == 0
    run.check()


def test_login_and_password_change_killed_at_any_write_keep_the_session_rules(
        start: Callable[[], Run]) -> None:
    run = start()
    api = run.api
    points = {
        "erin@example.com": Trap("insert", "sessions"),
        "fay@example.com": Trap(WRITES, "users", command=pushes("activeSessions")),
        # The session the cap pushed out is deleted (a delete, or a find-and-delete).
        "gus@example.com": Trap(("delete", "findAndModify"), "sessions"),
    }
    for email, trap in points.items():
        assert api.register(email).status == 201
        for _ in range(CAP - 1):
            assert api.login(email).status == 200
        assert run.crash(trap, lambda email=email: api.login(email)).status == 0
        # Signing in goes on: each later session takes its place, nothing piles up.
        for _ in range(CAP + 1):
            assert api.login(email).status == 200
    # A password change killed once the new password is stored: the other sessions are over.
    other, current = api.register("hal@example.com"), api.login("hal@example.com")
    password_stored = Trap(WRITES, "users", command=sets("password"))
    assert run.crash(password_stored, lambda: api.change_password(current)).status == 0
    assert other.refresh is not None
    assert api.refresh(other.refresh).status == 401
    assert api.call("GET", f"{AUTH}/sessions", access=other.body["data"]["accessToken"]) \
        .status == 401
    run.check()


def test_refresh_reset_and_the_mail_sender_survive_a_kill(start: Callable[[], Run]) -> None:
    run = start()
    api = run.api
    # Refresh killed once the rotation is stored: the same token again gets the successor.
    token = api.register("ivy@example.com").refresh
    assert token is not None
    assert run.crash(Trap("update", "sessions"), lambda: api.refresh(token)).status == 0
    again = api.refresh(token)
    assert again.status == 200
    assert api.refresh(again.body["data"]["refreshToken"]).status == 200
    # Reset killed once the new password is stored: every old session is over.
    first, second = api.register("jan@example.com"), api.login("jan@example.com")
    assert api.forgot("jan@example.com").status == 200
    link = run.mailed_token("jan@example.com", RESET)
    password_stored = Trap(WRITES, "users", command=sets("password"))
    assert run.crash(password_stored, lambda: api.reset(link)).status == 0
    for old in (first, second):
        assert old.refresh is not None
        assert api.refresh(old.refresh).status == 401
    assert api.login("jan@example.com", NEW_PASSWORD).status == 200
    # A sender killed after its claim: the lease runs out and another sender delivers.
    claim = Trap("update", "outbox", command=claims_for(run.db, "kim@example.com"))
    run.crash(claim, lambda: api.register("kim@example.com"))
    # A sender killed after SMTP accepted the message, before it recorded that: the one
    # redelivery at-least-once allows, under the same Message-ID. (Kim's message waits out
    # its lease meanwhile.)
    before_recorded = Trap("update", "outbox", command=marks_sent(run.db, "lee@example.com"),
                           when="before")
    run.crash(before_recorded, lambda: api.register("lee@example.com"), mail=False)
    redelivered = str(before_recorded.seen["updates"][0]["q"]["_id"])
    run.duplicates_allowed.add(redelivered)
    run.check()
    kim = run.db.outbox.find_one({"to": "kim@example.com"})
    assert (kim["status"], kim["attempts"]) == ("sent", 2)
    sent_by = {line["pid"] for line in run.service.events(logger="gatehouse.mail")
               if line["msg"] == "mail sent" and line["outboxId"] == str(kim["_id"])}
    assert sent_by
    assert claim.pid not in sent_by
    assert [d.outbox_id for d in deliveries(run.sink)].count(redelivered) == 2
