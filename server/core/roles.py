"""The user roles: one list, here so that the config (security.mfa_required_roles) can check
names against it without importing models (models/users.py re-exports it)."""

from __future__ import annotations

ROLES = ("user", "admin", "moderator")
