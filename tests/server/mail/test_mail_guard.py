"""Guarded mail: a link queued before its token is stored goes out only once a user holds it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta
from typing import Any

import pytest

from models import outbox, users
from models.outbox import Guard
from server.core.clock import utcnow
from server.core.config import Config, MailConfig, SmtpConfig
from server.mail.messages import verification_email
from server.mail.sender import Mailer
from server.security import token_hash
from tests._app import Clock
from tests.conftest import SmtpSink
from tests.server.mail.test_mailer import TOKEN, VERIFY, logged_text


@pytest.fixture
def smtp_mail(config: Config, smtp_config: SmtpConfig) -> MailConfig:
    return dataclasses.replace(config.mail, backend="smtp", smtp=smtp_config)


class TestGuardedMail:
    @staticmethod
    def guard_for(token: str) -> Guard:
        return Guard(users.VERIFICATION_TOKEN, token_hash(token))

    @staticmethod
    async def store_token(db: Any, token: str) -> None:
        await users.insert_user(db, users.new_user_doc(
            first_name="Ann", last_name="Lee", email="ann@example.com", password_hash="x",
            now=utcnow(), emailVerificationToken=token_hash(token)))

    async def test_waits_until_a_user_holds_the_token(
            self, db: Any, smtp_mail: MailConfig, config: Config,
            smtp_server: SmtpSink) -> None:
        clock = Clock()
        sender = Mailer(db, smtp_mail, clock=clock)
        await sender.send(verification_email(config, "ann@example.com", TOKEN),
                          guard=self.guard_for(TOKEN))
        assert await sender.run_once() == 1
        stored = await db[outbox.COLLECTION].find_one({})
        assert (stored["status"], stored["attempts"]) == (outbox.PENDING, 0)
        assert smtp_server.messages == []
        await self.store_token(db, TOKEN)
        clock.advance(timedelta(seconds=1))
        assert await sender.run_once() == 1
        message = await smtp_server.wait_for("ann@example.com")
        assert smtp_server.link(message, VERIFY) == VERIFY + TOKEN
        assert (await outbox.count_by_status(db))["sent"] == 1

    async def test_is_cancelled_when_no_user_ever_holds_it(
            self, db: Any, smtp_mail: MailConfig, config: Config, smtp_server: SmtpSink,
            caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger="gatehouse.mail")
        clock = Clock()
        sender = Mailer(db, smtp_mail, clock=clock)
        await sender.send(verification_email(config, "ann@example.com", TOKEN),
                          guard=self.guard_for(TOKEN))
        checks = 0
        for _ in range(60):  # 5 minutes of app time, well past the guard's grace
            if (await db[outbox.COLLECTION].find_one({}))["status"] != outbox.PENDING:
                break
            clock.advance(timedelta(seconds=5))
            checks += await sender.run_once()
        assert checks <= 15  # looked at ever more rarely, not every poll
        stored = await db[outbox.COLLECTION].find_one({})
        assert (stored["status"], stored["attempts"]) == (outbox.CANCELLED, 1)
        assert "text" not in stored
        assert smtp_server.messages == []
        assert any(r.getMessage() == "mail cancelled: no user holds its link"
                   for r in caplog.records)
        assert TOKEN not in logged_text(caplog)

    async def test_a_guarded_send_goes_out_on_release(
            self, db: Any, smtp_mail: MailConfig, config: Config,
            smtp_server: SmtpSink) -> None:
        sender = Mailer(db, smtp_mail, poll_interval=60)
        sender.start()
        try:
            await asyncio.sleep(0.2)  # idle
            message_id = await sender.send(
                verification_email(config, "ann@example.com", TOKEN),
                guard=self.guard_for(TOKEN))
            await self.store_token(db, TOKEN)
            await asyncio.sleep(0.3)
            assert smtp_server.messages == []  # queued before the token: no wake-up yet
            sender.release(message_id)
            await smtp_server.wait_for("ann@example.com", within=3)
        finally:
            await sender.stop()
