"""The mailer: email content, backends, retries across an SMTP outage, concurrent senders, logs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from models import outbox
from models.outbox import OutgoingMail
from server.core.clock import utcnow
from server.core.config import Config, MailConfig, SmtpConfig
from server.db import DB, make_client
from server.mail.messages import reset_email, to_mime, verification_email
from server.mail.sender import MAILER, Mailer, SmtpBackend
from tests.conftest import SmtpSink

TOKEN = "tok_SECRET-abc123"
VERIFY = "http://localhost:3000/verify-email?token="


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')} {r.args}"
                     for r in caplog.records)



@pytest.fixture
def smtp_mail(config: Config, smtp_config: SmtpConfig) -> MailConfig:
    return dataclasses.replace(config.mail, backend="smtp", smtp=smtp_config)


@pytest.fixture
async def mailer(db: Any, smtp_mail: MailConfig) -> AsyncIterator[Mailer]:
    sender = Mailer(db, smtp_mail)
    sender.start()
    yield sender
    await sender.stop()


class TestEmailContent:
    def test_verification_link_is_in_both_parts(self, config: Config) -> None:
        mail = verification_email(config, "ann@example.com", TOKEN)
        assert mail.to == "ann@example.com"
        assert VERIFY + TOKEN in mail.text
        assert f'href="{VERIFY}{TOKEN}"' in mail.html

    def test_reset_link_is_in_both_parts(self, config: Config) -> None:
        mail = reset_email(config, "ann@example.com", TOKEN)
        link = "http://localhost:3000/reset-password?token=" + TOKEN
        assert link in mail.text
        assert link in mail.html
        assert "10 minutes" in mail.text

    def test_trailing_slash_of_frontend_url_is_not_doubled(self, make_config: Any) -> None:
        config = dataclasses.replace(make_config(), frontend_url="https://app.example.com/")
        mail = verification_email(config, "ann@example.com", TOKEN)
        assert "https://app.example.com/verify-email?token=" + TOKEN in mail.text

    def test_html_part_escapes_what_it_embeds(self, make_config: Any) -> None:
        url = 'https://x.test/a?b=1&c="><script>'
        config = dataclasses.replace(make_config(), frontend_url=url)
        mail = verification_email(config, "ann@example.com", TOKEN)
        assert "<script>" not in mail.html
        assert "&amp;c=&quot;&gt;&lt;script&gt;" in mail.html
        assert url in mail.text

    def test_mime_is_text_then_html_with_a_stable_message_id(self, config: Config) -> None:
        mail = verification_email(config, "ann@example.com", TOKEN)
        message = to_mime(mail, "Gatehouse <no-reply@mail.test>", "abc", utcnow())
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain",
                                                                       "text/html"]
        assert message["Message-ID"] == "<abc.gatehouse@mail.test>"

    def test_a_header_injection_attempt_is_refused(self, config: Config) -> None:
        mail = OutgoingMail("ann@example.com\r\nBcc: evil@example.com", "Hi", "t", "h")
        with pytest.raises(ValueError, match=r"linefeed|newline|CR|LF"):
            to_mime(mail, config.mail.sender, "abc", utcnow())


class TestBackends:
    async def test_console_logs_recipient_and_subject_only(
            self, db: Any, config: Config, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG, logger="gatehouse")
        sender = Mailer(db, dataclasses.replace(config.mail, backend="console"))
        await sender.send(verification_email(config, "ann@example.com", TOKEN))
        assert await sender.run_once() == 1
        line = next(r for r in caplog.records if "console backend" in r.getMessage())
        assert line.fields["to"] == "ann@example.com"  # type: ignore[attr-defined]
        assert line.fields["subject"] == "Verify your email address"  # type: ignore[attr-defined]
        assert TOKEN not in logged_text(caplog)

    async def test_file_writes_one_parseable_eml_per_message(
            self, db: Any, config: Config, tmp_path: Path) -> None:
        folder = tmp_path / "mail"
        sender = Mailer(db, dataclasses.replace(config.mail, backend="file",
                                                file_dir=str(folder)))
        await sender.send(verification_email(config, "ann@example.com", TOKEN))
        await sender.send(reset_email(config, "bob@example.com", TOKEN))
        assert await sender.run_once() == 2
        files = sorted(folder.iterdir())
        assert [f.suffix for f in files] == [".eml", ".eml"]
        parsed = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
        ann = next(m for m in parsed if m["To"] == "ann@example.com")
        text, html = SmtpSink.parts(ann)
        assert VERIFY + TOKEN in text
        assert VERIFY + TOKEN in html

    async def test_smtp_delivers_both_parts(self, mailer: Mailer, config: Config,
                                            smtp_server: SmtpSink) -> None:
        await mailer.send(verification_email(config, "ann@example.com", TOKEN))
        message = await smtp_server.wait_for("ann@example.com")
        text, html = smtp_server.parts(message)
        assert smtp_server.link(message, VERIFY) == VERIFY + TOKEN
        assert f'href="{VERIFY}{TOKEN}"' in html
        assert message["From"] == config.mail.sender
        assert message["Subject"] == "Verify your email address"
        assert text.strip()


class TestRetryAcrossAnOutage:
    async def test_smtp_down_then_back_delivers_exactly_once(
            self, mailer: Mailer, db: Any, config: Config, smtp_server: SmtpSink) -> None:
        smtp_server.stop()
        await mailer.send(verification_email(config, "ann@example.com", TOKEN))

        async def retried() -> bool:
            stored = await db[outbox.COLLECTION].find_one({})
            return stored is not None and stored["attempts"] >= 2

        await eventually(retried)
        stored = await db[outbox.COLLECTION].find_one({})
        assert stored["status"] == outbox.PENDING
        assert stored["lastError"].startswith("SMTPConnect")
        assert stored["nextAttemptAt"] > stored["createdAt"]
        assert smtp_server.messages == []

        smtp_server.start()
        message = await smtp_server.wait_for("ann@example.com", within=5)
        assert smtp_server.link(message, VERIFY) == VERIFY + TOKEN
        await asyncio.sleep(0.3)  # a few more poll rounds: nothing is sent twice
        assert len(smtp_server.messages) == 1
        assert await outbox.count_by_status(db) == {"pending": 0, "sent": 1, "failed": 0}

    def test_backoff_doubles_up_to_the_cap(self, db: Any, config: Config) -> None:
        mail = dataclasses.replace(config.mail, retry_delay=timedelta(seconds=5),
                                   retry_max_delay=timedelta(minutes=5))
        sender = Mailer(db, mail)
        delays = [sender.backoff(n).total_seconds() for n in (1, 2, 3, 6, 7, 10**6)]
        assert delays == [5, 10, 20, 160, 300, 300]

    async def test_gives_up_after_max_attempts_and_says_so(
            self, db: Any, smtp_mail: MailConfig, config: Config, smtp_server: SmtpSink,
            caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG, logger="gatehouse")
        smtp_server.stop()
        sender = Mailer(db, dataclasses.replace(smtp_mail, max_attempts=2))
        sender.start()
        try:
            await sender.send(reset_email(config, "ann@example.com", TOKEN))

            async def failed_and_said() -> bool:
                # The sender marks the message failed, then logs: wait for both, or stop()
                # can cancel it between the two.
                said = any(r.getMessage() == "mail failed permanently"
                           for r in caplog.records)
                return said and (await outbox.count_by_status(db))["failed"] == 1

            await eventually(failed_and_said, within=15)  # two refused connections, slow under load
        finally:
            await sender.stop()
        stored = await db[outbox.COLLECTION].find_one({})
        assert stored["attempts"] == 2
        assert "text" not in stored
        assert "html" not in stored
        assert any(r.getMessage() == "mail failed permanently" for r in caplog.records)
        assert TOKEN not in logged_text(caplog)

    async def test_a_message_that_cannot_be_built_fails_at_once(
            self, db: Any, config: Config, caplog: pytest.LogCaptureFixture) -> None:
        sender = Mailer(db, config.mail)
        await sender.send(OutgoingMail("ann@example.com\r\nBcc: x@example.com", "Hi", "t", "h"))
        assert await sender.run_once() == 1
        stored = await db[outbox.COLLECTION].find_one({})
        assert (stored["status"], stored["attempts"]) == (outbox.FAILED, 1)
        assert stored["lastError"] == "ValueError"
        assert any(r.getMessage() == "mail failed permanently" for r in caplog.records)


class TestSenders:
    async def test_two_senders_on_one_database_never_deliver_twice(
            self, config: Config, smtp_mail: MailConfig, smtp_server: SmtpSink) -> None:
        clients = [make_client(config.mongodb.uri, 2.0, 10) for _ in range(2)]
        dbs = [c[config.mongodb.database] for c in clients]
        now = utcnow()
        for i in range(20):  # a backlog both senders find at once and compete for
            await outbox.enqueue(dbs[0], verification_email(config, f"u{i}@example.com",
                                                            TOKEN), now)
        senders = [Mailer(db, smtp_mail, poll_interval=0.05) for db in dbs]
        for sender in senders:
            sender.start()
        try:
            async def all_received() -> bool:
                return len(smtp_server.messages) >= 20

            await eventually(all_received, within=10)
            await asyncio.sleep(0.3)
            attempts = [d["attempts"] async for d in dbs[0][outbox.COLLECTION].find({})]
        finally:
            for sender in senders:
                await sender.stop()
            for client in clients:
                client.close()
        recipients = sorted(m["To"] for m in smtp_server.messages)
        assert recipients == sorted(f"u{i}@example.com" for i in range(20))
        assert len({m["Message-ID"] for m in smtp_server.messages}) == 20
        assert attempts == [1] * 20

    async def test_send_wakes_an_idle_sender_at_once(
            self, db: Any, smtp_mail: MailConfig, config: Config,
            smtp_server: SmtpSink) -> None:
        sender = Mailer(db, smtp_mail, poll_interval=60)
        sender.start()
        try:
            await asyncio.sleep(0.2)  # let it drain the empty outbox and go idle
            started = time.monotonic()
            await sender.send(verification_email(config, "ann@example.com", TOKEN))
            await smtp_server.wait_for("ann@example.com", within=3)
            assert time.monotonic() - started < 3
        finally:
            await sender.stop()
        assert not sender.running

    async def test_the_sender_outlives_an_outbox_outage(
            self, smtp_mail: MailConfig, caplog: pytest.LogCaptureFixture) -> None:
        client = make_client("mongodb://127.0.0.1:9/?directConnection=true", 0.2, 1)
        sender = Mailer(client["nowhere"], smtp_mail, poll_interval=0.05)
        sender.start()
        try:
            await asyncio.sleep(0.8)
            assert sender.running
        finally:
            await sender.stop()
            client.close()
        assert any(r.getMessage().startswith("mail sender: outbox unavailable")
                   for r in caplog.records)


@pytest.fixture
def tls_contexts(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) contexts around a throwaway self-signed certificate for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",  # noqa: S603
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


@pytest.fixture
def secure_smtp(tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> Iterator[SmtpSink]:
    """A server that refuses mail before STARTTLS and without AUTH as mailer / s3cret."""

    def check(server: Any, session: Any, envelope: Any, mechanism: str,
              auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"mailer"
              and auth_data.password == b"s3cret")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    sink = SmtpSink(tls_context=tls_contexts[0], require_starttls=True, auth_required=True,
                    authenticator=check)
    sink.start()
    yield sink
    sink.stop()


class TestSmtpStartTlsAndAuth:
    def _mailer(self, db: Any, config: Config, sink: SmtpSink, password: str,
                client_tls: ssl.SSLContext) -> Mailer:
        smtp = SmtpConfig(host="127.0.0.1", port=sink.port, username="mailer",
                          password=password, starttls=True, timeout=timedelta(seconds=2))
        # A retry a minute away: on a loaded machine a STARTTLS + AUTH attempt can outlast the
        # test config's 200 ms back-off, and run_once would then count the retry too.
        mail = dataclasses.replace(config.mail, backend="smtp", smtp=smtp,
                                   retry_delay=timedelta(minutes=1),
                                   retry_max_delay=timedelta(minutes=1))
        return Mailer(db, mail, backend=SmtpBackend(smtp, tls_context=client_tls))

    async def test_delivers_over_starttls_with_auth(
            self, db: Any, config: Config, secure_smtp: SmtpSink,
            tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
        sender = self._mailer(db, config, secure_smtp, "s3cret", tls_contexts[1])
        await sender.send(verification_email(config, "ann@example.com", TOKEN))
        assert await sender.run_once() == 1
        message = await secure_smtp.wait_for("ann@example.com")
        assert secure_smtp.link(message, VERIFY) == VERIFY + TOKEN

    async def test_refused_credentials_are_retried_and_never_logged(
            self, db: Any, config: Config, secure_smtp: SmtpSink,
            tls_contexts: tuple[ssl.SSLContext, ssl.SSLContext],
            caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG, logger="gatehouse")
        sender = self._mailer(db, config, secure_smtp, "wrong-pass", tls_contexts[1])
        await sender.send(verification_email(config, "ann@example.com", TOKEN))
        assert await sender.run_once() == 1
        stored = await db[outbox.COLLECTION].find_one({})
        assert (stored["status"], stored["lastError"]) == ("pending",
                                                           "SMTPAuthenticationError 535")
        assert secure_smtp.messages == []
        assert "wrong-pass" not in logged_text(caplog)
        assert TOKEN not in logged_text(caplog)


class TestRegisterWhileSmtpIsDown:
    async def test_no_mail_is_lost_and_the_link_works_once_smtp_returns(
            self, make_client: Any, make_config: Any, smtp_config: SmtpConfig,
            smtp_server: SmtpSink, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG, logger="gatehouse")
        client = await make_client(make_config(mail={"backend": "smtp", "smtp": smtp_config}))
        smtp_server.stop()
        started = time.monotonic()
        resp = await client.post("/api/v1/auth/register", json={
            "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com",
            "password": "Str0ng!Passw0rd"})
        assert resp.status == 201
        assert time.monotonic() - started < 2  # mail never blocks the request

        db = client.app[DB]

        async def retried() -> bool:
            stored = await db[outbox.COLLECTION].find_one({"to": "ann@example.com"})
            return stored is not None and stored["attempts"] >= 2

        await eventually(retried)
        assert smtp_server.messages == []

        smtp_server.start()
        message = await smtp_server.wait_for("ann@example.com", within=5)
        link = smtp_server.link(message, VERIFY)
        token = link.removeprefix(VERIFY)
        assert token
        assert link in smtp_server.parts(message)[1]
        verified = await client.get(f"/api/v1/auth/verify-email/{token}")
        assert verified.status == 200
        assert len(smtp_server.messages) == 1
        names = {r.name for r in caplog.records}
        assert {"gatehouse.access", "gatehouse.mail"} <= names  # the check below sees both
        assert token not in logged_text(caplog)


class TestAppWiring:
    async def test_mail_client_delivers_to_the_sink_in_order(
            self, mail_client: Any, config: Config, smtp_server: SmtpSink) -> None:
        app_mailer = mail_client.app[MAILER]
        await app_mailer.send(verification_email(config, "ann@example.com", "first"))
        first = await smtp_server.wait_for("ann@example.com")
        await app_mailer.send(verification_email(config, "ann@example.com", "second"))
        second = await smtp_server.wait_for("ann@example.com", count=2)
        assert smtp_server.link(first, VERIFY) == VERIFY + "first"
        assert smtp_server.link(second, VERIFY) == VERIFY + "second"


    async def test_the_app_runs_a_mailer_and_stops_it_on_shutdown(
            self, make_client: Any, make_config: Any, smtp_config: SmtpConfig,
            smtp_server: SmtpSink) -> None:
        config = make_config(mail={"backend": "smtp", "smtp": smtp_config})
        client = await make_client(config)
        app_mailer = client.app[MAILER]
        assert isinstance(app_mailer, Mailer)
        assert app_mailer.running
        await app_mailer.send(reset_email(config, "ann@example.com", TOKEN))
        message = await smtp_server.wait_for("ann@example.com")
        assert smtp_server.link(message, "http://localhost:3000/reset-password?token=")
        await client.close()
        assert not app_mailer.running
