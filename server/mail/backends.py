"""Where the mail sender (server/mail/sender.py) hands a built message: the console (a log
line, no body), .eml files, or SMTP; and the one safe summary of a delivery error."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from server.core.clock import utcnow
from server.core.config import MailConfig, SmtpConfig

log = logging.getLogger("gatehouse.mail")


class Backend(Protocol):
    """Where a message goes; `deliver` raises on any failure so the sender retries."""

    async def deliver(self, message: EmailMessage) -> None: ...


class ConsoleBackend:
    """Development: one log line per message, with no body (it holds a token)."""

    async def deliver(self, message: EmailMessage) -> None:
        log.info("mail delivered (console backend)", extra={"fields": {
            "to": message["To"], "subject": message["Subject"],
            "messageId": message["Message-ID"]}})


class FileBackend:
    """One .eml file per message under a folder (development, tests, mail-to-disk setups).

    A message holds a live link (a reset token): the folder is 0700 and each file 0600, set
    explicitly rather than left to the process umask."""

    FOLDER_MODE = 0o700
    FILE_MODE = 0o600

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    async def deliver(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=self.FOLDER_MODE)
        os.chmod(self.folder, self.FOLDER_MODE)  # mkdir's mode is masked; the folder may exist
        name = str(message["Message-ID"]).strip("<>").partition("@")[0]
        final = self.folder / f"{utcnow():%Y%m%dT%H%M%S}-{name}.eml"
        # Write then rename, so a reader never sees half a message. O_NOFOLLOW: a planted
        # symlink is never written through.
        temp = final.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                     self.FILE_MODE)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), self.FILE_MODE)  # a leftover temp file keeps its old mode
            out.write(message.as_bytes())
        os.replace(temp, final)


class SmtpBackend:
    """SMTP via aiosmtplib: STARTTLS when configured, AUTH when a username is set.

    Certificates are checked against the system CAs; `tls_context` replaces that (tests
    with a self-signed certificate, or a private CA).
    """

    def __init__(self, smtp: SmtpConfig, tls_context: ssl.SSLContext | None = None) -> None:
        self.smtp = smtp
        self.tls_context = tls_context

    async def deliver(self, message: EmailMessage) -> None:
        cfg = self.smtp
        await aiosmtplib.send(
            message, hostname=cfg.host, port=cfg.port,
            username=cfg.username or None, password=cfg.password or None,
            start_tls=cfg.starttls, tls_context=self.tls_context,
            timeout=cfg.timeout.total_seconds(),
        )


def make_backend(config: MailConfig) -> Backend:
    """The backend named by mail.backend."""
    if config.backend == "smtp":
        return SmtpBackend(config.smtp)
    if config.backend == "file":
        return FileBackend(config.file_dir)
    return ConsoleBackend()


def describe(exc: BaseException) -> str:
    """An error summary safe to store and log: the class and SMTP code, never server text."""
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__} {code}" if isinstance(code, int) else type(exc).__name__
