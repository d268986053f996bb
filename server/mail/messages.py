"""The emails the service sends: verification and password reset, as text + HTML parts."""

from __future__ import annotations

import html
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from models.outbox import OutgoingMail
from server.core.config import Config


def _link(config: Config, path: str, token: str) -> str:
    # API.md: `{frontend_url}/verify-email?token=<token>`; tokens are URL-safe by construction,
    # so the link carries the token verbatim (a trailing slash on frontend_url is not doubled).
    return f"{config.frontend_url.rstrip('/')}/{path}?token={token}"


def _compose(to: str, subject: str, lines: list[str], link: str, action: str) -> OutgoingMail:
    text = "\n\n".join([*lines, link, "If you did not ask for this, ignore this email."]) + "\n"
    safe = html.escape(link, quote=True)
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    body = (
        "<!DOCTYPE html><html><body>"
        f"{paragraphs}"
        f'<p><a href="{safe}">{html.escape(action)}</a></p>'
        f"<p>Or copy this link into your browser:<br>{safe}</p>"
        "<p>If you did not ask for this, ignore this email.</p>"
        "</body></html>"
    )
    return OutgoingMail(to=to, subject=subject, text=text, html=body)


def verification_email(config: Config, to: str, token: str) -> OutgoingMail:
    """The email-verification message; its link lives 24 h (API.md)."""
    link = _link(config, "verify-email", token)
    lines = ["Welcome to Gatehouse.",
             "Please confirm your email address by opening the link below. "
             "It expires in 24 hours."]
    return _compose(to, "Verify your email address", lines, link, "Verify email address")


def reset_email(config: Config, to: str, token: str) -> OutgoingMail:
    """The password-reset message; its link lives 10 min (API.md)."""
    link = _link(config, "reset-password", token)
    lines = ["We received a request to reset your Gatehouse password.",
             "Open the link below to choose a new password. It expires in 10 minutes."]
    return _compose(to, "Reset your password", lines, link, "Reset password")


def to_mime(mail: OutgoingMail, sender: str, key: str, date: datetime) -> EmailMessage:
    """A multipart/alternative (text, then HTML) message ready for any backend.

    The Message-ID derives from `key` (the outbox id), so a redelivery after a lost
    acknowledgement carries the same id and receivers can drop the duplicate.
    Raises ValueError for a header that cannot be encoded safely (e.g. a newline).
    """
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<{key}.gatehouse@{domain}>"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message
