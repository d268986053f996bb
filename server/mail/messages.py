"""The emails the service sends, as text + HTML parts: the links that act (verification, reset,
email change) and the security notices, which never carry a token or a link."""

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


def email_change_email(config: Config, to: str, token: str) -> OutgoingMail:
    """The link that makes `to` the account's sign-in email; lives 24 h like a verification
    link and is followed on the same page (API.md: /verify-email?token=)."""
    link = _link(config, "verify-email", token)
    lines = ["Someone asked to use this address for their Gatehouse account.",
             "Open the link below to confirm it. Until you do, the account keeps signing in "
             "with its current address. The link expires in 24 hours."]
    return _compose(to, "Confirm your new email address", lines, link, "Confirm email address")


# Security notices: facts only. No token and no link that acts, so a notice forwarded,
# logged or read by someone else gives them nothing; the way back is the sign-in page.
_NOT_YOU = ('If this was not you, choose "Forgot password" on the sign-in page to set a new '
            "password, and contact your administrator.")


def _notice(to: str, subject: str, lines: list[str]) -> OutgoingMail:
    text = "\n\n".join(lines) + "\n"
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return OutgoingMail(to=to, subject=subject, text=text,
                        html=f"<!DOCTYPE html><html><body>{paragraphs}</body></html>")


def password_changed_notice(to: str) -> OutgoingMail:
    """To the account's address after its password was changed while signed in."""
    return _notice(to, "Your password was changed", [
        "The password of your Gatehouse account was just changed. Every other session "
        "was signed out.", _NOT_YOU])


def password_reset_notice(to: str) -> OutgoingMail:
    """To the account's address after its password was set from a reset link."""
    return _notice(to, "Your password was reset", [
        "The password of your Gatehouse account was just reset with an emailed link. "
        "Every session was signed out.", _NOT_YOU])


def email_change_requested_notice(to: str, new_email: str) -> OutgoingMail:
    """To the current address when a change to `new_email` is asked for."""
    return _notice(to, "A change of your sign-in email was requested", [
        f"Someone signed in to your Gatehouse account asked to change its email to "
        f"{new_email}. The account keeps signing in with this address until the new one "
        "is confirmed.", _NOT_YOU])


def email_changed_notice(to: str, new_email: str) -> OutgoingMail:
    """To the former address when an administrator changed the account's email."""
    return _notice(to, "Your sign-in email was changed", [
        f"An administrator changed the email of your Gatehouse account to {new_email}. "
        "This address no longer signs in.",
        "If you did not expect this, contact your administrator."])


def email_in_use_notice(to: str) -> OutgoingMail:
    """To the owner of an address another account asked to switch to: the asker gets the
    same answer as for a free address, and this owner is told instead."""
    return _notice(to, "Someone tried to use your email address", [
        "Someone signed in to another Gatehouse account asked to change its email to this "
        "address. This address already belongs to your account, so nothing was changed.",
        "You do not need to do anything. If you keep receiving this, contact your "
        "administrator."])


def account_locked_notice(to: str, until: datetime) -> OutgoingMail:
    """To the account's address when too many wrong passwords locked it until `until`."""
    stamp = until.strftime("%Y-%m-%d %H:%M UTC")
    return _notice(to, "Your account was locked", [
        f"Too many wrong passwords were tried for your Gatehouse account, so signing in "
        f"is blocked until {stamp}.", _NOT_YOU])


def second_factor_added_notice(to: str, factor: str) -> OutgoingMail:
    """To the account's address when a second factor (`factor`, for people) was added."""
    return _notice(to, "A second factor was added to your account", [
        f"{factor} was just turned on for your Gatehouse account: signing in now also "
        "asks for a code from it.", _NOT_YOU])


def second_factor_removed_notice(to: str, factor: str) -> OutgoingMail:
    """To the account's address when a second factor was removed."""
    return _notice(to, "A second factor was removed from your account", [
        f"{factor} was just turned off for your Gatehouse account: signing in no longer "
        "asks for a code from it.", _NOT_YOU])


def second_factors_reset_notice(to: str) -> OutgoingMail:
    """To the account's address when an admin removed all of its second factors."""
    return _notice(to, "Your second factors were reset by an administrator", [
        "An administrator just removed every second factor of your Gatehouse account "
        "(authenticator app, recovery codes, passkeys) and signed it out everywhere: "
        "signing in now takes only your password. Add a second factor again in your "
        "security settings.", "If you did not ask for this, contact your administrator, and "
        'choose "Forgot password" on the sign-in page to set a new password.'])


def passkey_added_notice(to: str, name: str) -> OutgoingMail:
    """To the account's address when a passkey was registered."""
    return _notice(to, "A passkey was added to your account", [
        f"A passkey named \"{name}\" was just added to your Gatehouse account: it can now "
        "complete a sign-in, or sign in without a password.", _NOT_YOU])


def passkey_removed_notice(to: str, name: str) -> OutgoingMail:
    """To the account's address when a passkey was removed."""
    return _notice(to, "A passkey was removed from your account", [
        f"The passkey named \"{name}\" was just removed from your Gatehouse account: it no "
        "longer signs in.", _NOT_YOU])


def recovery_code_used_notice(to: str, left: int) -> OutgoingMail:
    """To the account's address when a recovery code completed a sign-in."""
    return _notice(to, "A recovery code was used to sign in", [
        "A recovery code was just used to sign in to your Gatehouse account. Each code "
        f"works once; {left} unused code{'s' if left != 1 else ''} left. Generate new codes "
        "in your security settings when few are left.", _NOT_YOU])


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
