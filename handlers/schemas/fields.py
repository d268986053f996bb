"""Reusable marshmallow fields: people and credentials (Email, Password, Name, phone, birth date)
on the way in, the contract's timestamps (IsoDateTime) on the way out.

Each field reports the contract's wording (API.md) and normalises what it accepts (an email
in its canonical form, server/core/emails.py), so every route that takes one of these
behaves the same.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any

from marshmallow import ValidationError, fields

from server.core.clock import iso
from server.core.emails import InvalidEmail, canonical_email

EMAIL_MESSAGE = "Please provide a valid email"
COMPLEXITY_MESSAGE = ("Password must contain at least one uppercase letter, one lowercase "
                      "letter, one number, and one special character")
LENGTH_MESSAGE = "Password must be between 8 and 128 characters"
PHONE_PATTERN = re.compile(r"^\+?[\d\s\-()]{10,}$")


class _Text(fields.String):
    """A string field whose wrong-type error names the field's expectation."""

    def __init__(self, *, invalid: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error_messages["invalid"] = invalid


class Email(_Text):
    """An email address, loaded as its canonical form (server/core/emails.py: NFKC, trimmed,
    lower-cased, ASCII dot-atom at a dotted host name); any address without one is refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(invalid=EMAIL_MESSAGE, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs))
        if not text.strip():
            raise self.make_error("required")
        try:
            return canonical_email(text)
        except InvalidEmail:
            raise ValidationError(EMAIL_MESSAGE) from None


class Password(_Text):
    """A new password: 8-128 characters of any Unicode, with upper, lower, digit and symbol.

    The complexity rule is reported before the length rule (so `weak` is told about
    complexity first). Never trimmed or altered: every character counts."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(invalid="Password must be a string", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs))
        problems = []
        if not (any(c.isupper() for c in text) and any(c.islower() for c in text)
                and any(c.isdigit() for c in text)
                and any(not c.isalnum() and not c.isspace() for c in text)):
            problems.append(COMPLEXITY_MESSAGE)
        if not 8 <= len(text) <= 128:
            problems.append(LENGTH_MESSAGE)
        if problems:
            raise ValidationError(problems)
        return text


class Name(_Text):
    """A person's name: trimmed, 1-50 characters."""

    def __init__(self, label: str = "Name", **kwargs: Any) -> None:
        self.label = label
        super().__init__(invalid=f"{label} must be a string", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        if not 1 <= len(text) <= 50:
            raise ValidationError(f"{self.label} must be between 1 and 50 characters")
        return text


class PhoneNumber(_Text):
    """A phone number matching `^\\+?[\\d\\s\\-()]{10,}$` (API.md), trimmed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(invalid="Please provide a valid phone number", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        if len(text) > 30 or not PHONE_PATTERN.match(text):
            raise ValidationError("Please provide a valid phone number")
        return text


class DateOfBirth(fields.Field):
    """A date in the past (`1990-04-01`, or a full ISO timestamp), stored as midnight UTC."""

    default_error_messages = {"invalid": "Date of birth must be a valid date (YYYY-MM-DD)"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = value.strip()
        try:
            day = date.fromisoformat(text) if len(text) == 10 else \
                datetime.fromisoformat(text).date()
        except ValueError:
            raise self.make_error("invalid") from None
        if day >= datetime.now(UTC).date():
            raise ValidationError("Date of birth must be in the past")
        return datetime.combine(day, time.min, tzinfo=UTC)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value.date().isoformat() if isinstance(value, datetime) else value


class IsoDateTime(fields.DateTime):
    """A response timestamp in the contract's form: UTC, milliseconds, `Z` (`iso()`)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return iso(value)
