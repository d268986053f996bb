"""What the custom request fields accept, in JSON Schema terms, for the OpenAPI document.

The fields (handlers/schemas/fields.py) validate in code; apispec sees only `type: string`.
These hints let the docs and the fuzzer know the rules. Where the exact rule cannot be written
as a pattern, the hint is a little stricter than the code, never looser, so every documented
value is accepted.
"""

from __future__ import annotations

from typing import Any

from handlers.schemas import fields as custom
from handlers.schemas.users import ProfilePicture

# Upper, lower, digit and a symbol (a character that is neither a word character nor space).
PASSWORD_PATTERN = r"^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])(?=.*[^\w\s]).{8,128}$"  # noqa: S105 - a regex
# API.md's `^\+?[\d\s\-()]{10,}$`, after trimming (no outer spaces).
PHONE_PATTERN = r"^\+?[\d\-()][\d\s\-()]{8,}[\d\-()]$"
# "In the past" has no JSON Schema keyword: years 1900-2019 are a subset that stays past.
PAST_DATE_PATTERN = r"^(19[0-9]{2}|20[01][0-9])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
# An http(s) URL of a jpg/jpeg/png/gif on a dotted host (the code takes any valid URL).
PICTURE_PATTERN = (r"^https?://([a-z0-9]{1,20}\.){1,3}[a-z]{2,6}/([a-z0-9_-]{1,20}/){0,3}"
                   r"[a-z0-9_-]{1,40}\.(jpg|jpeg|png|gif)$")

NAME_PATTERN = r"^[^\s\x1c-\x1f\x85](.*[^\s\x1c-\x1f\x85])?$"

FIELD_HINTS: dict[type, dict[str, Any]] = {
    custom.Email: {"format": "email", "maxLength": 254, "example": "ada@example.com",
                   "description": "Loaded as its canonical form: NFKC, trimmed, lower-cased; "
                                  "must then be ASCII (an internationalised domain in its "
                                  "xn-- form). Quoted local parts, IP literals, dotless "
                                  "domains and control characters are refused"},
    custom.Password: {"minLength": 8, "maxLength": 128, "pattern": PASSWORD_PATTERN,
                      "example": "Str0ng!Passw0rd", "format": "password",
                      "description": "8-128 characters with an uppercase letter, a lowercase "
                                     "letter, a number and a special character"},
    # Name trims what Python calls whitespace, which includes \x1c-\x1f and \x85; an
    # ECMA-regex client (and schemathesis) reads \S as admitting them: name them.
    custom.Name: {"minLength": 1, "maxLength": 50, "pattern": NAME_PATTERN, "example": "Ada"},
    custom.PhoneNumber: {"maxLength": 30, "pattern": PHONE_PATTERN,
                         "example": "+44 20 7946 0958"},
    ProfilePicture: {"format": "uri", "maxLength": 2048, "pattern": PICTURE_PATTERN,
                     "example": "https://example.com/ada.png"},
    custom.DateOfBirth: {"type": "string", "format": "date", "example": "1990-04-01",
                         "pattern": PAST_DATE_PATTERN,
                         "description": "A date in the past (YYYY-MM-DD; a full ISO timestamp "
                                        "is read as its date)"},
}


def field_hints(field: Any) -> dict[str, Any]:
    """The JSON Schema facts for a marshmallow field instance ({} for a stock field)."""
    for cls in type(field).__mro__:
        if cls in FIELD_HINTS:
            return dict(FIELD_HINTS[cls])
    return {}
