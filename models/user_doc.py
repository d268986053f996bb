"""The user document's shape: the User record read from it, and a complete new document.
Queries on the collection are in models/users.py (which re-exports these names)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from server.core.emails import canonical_email

DEFAULT_PREFERENCES: dict[str, Any] = {"theme": "light", "notifications": True, "language": "en"}


@dataclass(frozen=True, slots=True)
class User:
    id: str
    first_name: str
    last_name: str
    email: str
    password_hash: str
    role: str = "user"
    is_active: bool = True
    is_email_verified: bool = False
    profile_picture: str | None = None
    phone_number: str | None = None
    date_of_birth: datetime | None = None
    last_login: datetime | None = None
    login_attempts: int = 0
    lock_until: datetime | None = None
    preferences: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_PREFERENCES))
    active_sessions: tuple[str, ...] = ()
    credential_version: int = 0
    session_serial: int = 0  # sessions ever started (models/sessions.py slots)
    pending_email: str | None = None  # asked for, not confirmed: never a sign-in identity
    created_at: datetime | None = None
    updated_at: datetime | None = None
    mfa_totp: bool = False  # models/user_mfa.py: facts about the factors, never a secret
    recovery_codes_left: int = 0
    passkeys: int = 0  # models/user_passkeys.py: how many
    session_auth: Mapping[str, Any] = field(default_factory=dict)  # services/auth_context

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> User:
        mfa = doc.get("mfa") or {}
        return cls(
            id=str(doc["_id"]), first_name=doc.get("firstName", ""),
            last_name=doc.get("lastName", ""), email=doc["email"],
            password_hash=doc.get("password", ""), role=doc.get("role", "user"),
            is_active=doc.get("isActive", True),
            is_email_verified=doc.get("isEmailVerified", False),
            profile_picture=doc.get("profilePicture"), phone_number=doc.get("phoneNumber"),
            date_of_birth=doc.get("dateOfBirth"), last_login=doc.get("lastLogin"),
            login_attempts=doc.get("loginAttempts", 0), lock_until=doc.get("lockUntil"),
            preferences={**DEFAULT_PREFERENCES, **(doc.get("preferences") or {})},
            active_sessions=tuple(doc.get("activeSessions") or ()),
            credential_version=doc.get("credentialVersion") or 0,
            session_serial=doc.get("sessionSerial") or 0,
            pending_email=doc.get("pendingEmail"),
            created_at=doc.get("createdAt"), updated_at=doc.get("updatedAt"),
            mfa_totp=mfa.get("totpSecret") is not None, passkeys=len(mfa.get("passkeys") or ()),
            recovery_codes_left=len(mfa.get("recoveryCodes") or ()),
            session_auth=dict(doc.get("sessionAuth") or {}))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def locked_at(self, now: datetime) -> bool:
        return self.lock_until is not None and self.lock_until > now


def new_user_doc(*, first_name: str, last_name: str, email: str, password_hash: str,
                 now: datetime, role: str = "user", first_session: str | None = None,
                 **optional: Any) -> dict[str, Any]:
    """A complete user document; `optional` takes phoneNumber, dateOfBirth, profilePicture,
    isEmailVerified, preferences (API field names). With `first_session`, the user is
    created with that session listed (its serial is 0)."""
    doc: dict[str, Any] = {
        "firstName": first_name, "lastName": last_name, "email": canonical_email(email),
        "password": password_hash, "role": role, "isActive": True, "isEmailVerified": False,
        "profilePicture": None, "phoneNumber": None, "dateOfBirth": None, "lastLogin": None,
        "loginAttempts": 0, "lockUntil": None, "loginPending": [], "loginFailedAt": None,
        "emailVerificationToken": None, "emailVerificationExpires": None,
        "passwordResetToken": None, "passwordResetExpires": None, "pendingEmail": None,
        "pendingEmailToken": None, "pendingEmailExpires": None,
        "preferences": dict(DEFAULT_PREFERENCES), "activeSessions": [], "sessionSerial": 0,
        "credentialVersion": 0, "createdAt": now, "updatedAt": now,
    }
    if first_session is not None:
        doc.update(activeSessions=[first_session], sessionSerial=1)
    doc.update(optional)
    return doc
