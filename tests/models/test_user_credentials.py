"""The credential version on the real database: legacy documents, bumps, conditional writes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from models import user_credentials, user_sessions, users
from server.core.clock import utcnow
from server.core.errors import EmailTaken
from tests.models.test_users import new_user

NOW = utcnow()


async def legacy_user(db: Any) -> users.User:
    """A user written before credentialVersion and the pending-email fields existed."""
    user = await new_user(db)
    await db.users.update_one({"_id": users.object_id(user.id)}, {"$unset": {
        "credentialVersion": "", "pendingEmail": "", "pendingEmailToken": "",
        "pendingEmailExpires": ""}})
    found = await users.find_by_id(db, user.id)
    assert found is not None
    return found


class TestVersion:
    async def test_a_legacy_document_reads_as_version_0_and_takes_a_session(
            self, db: Any) -> None:
        user = await legacy_user(db)
        assert user.credential_version == 0
        added = await user_sessions.add_session(db, user.id, "s1", 5, NOW, version=0)
        assert added is not None
        assert added.user.active_sessions == ("s1",)

    async def test_ending_every_session_bumps_and_refuses_the_older_version(
            self, db: Any) -> None:
        user = await legacy_user(db)
        await user_sessions.remove_sessions(db, user.id)
        assert (await users.find_by_id(db, user.id)).credential_version == 1  # type: ignore[union-attr]
        assert await user_sessions.add_session(db, user.id, "late", 5, NOW, version=0) is None
        assert await user_sessions.add_session(db, user.id, "fresh", 5, NOW, version=1) is not None

    async def test_ending_one_session_does_not_bump(self, db: Any) -> None:
        user = await new_user(db)
        await user_sessions.add_session(db, user.id, "a", 5, NOW)
        await user_sessions.remove_sessions(db, user.id, ["a"])
        assert (await users.find_by_id(db, user.id)).credential_version == 0  # type: ignore[union-attr]


class TestConditionalWrites:
    async def test_a_password_change_checked_before_a_bump_is_not_written(
            self, db: Any) -> None:
        user = await new_user(db)
        await user_sessions.add_session(db, user.id, "mine", 5, NOW)
        checked = await users.find_by_id(db, user.id)
        assert checked is not None
        await user_sessions.remove_sessions(db, user.id, keep="mine")  # a logout-all elsewhere
        assert not await user_credentials.set_password(db, checked, "h2", "mine", NOW)
        fresh = await users.find_by_id(db, user.id)
        assert fresh is not None
        assert fresh.password_hash == user.password_hash
        assert await user_credentials.set_password(db, fresh, "h2", "mine", NOW)

    async def test_set_password_voids_links_and_other_sessions(self, db: Any) -> None:
        user = await new_user(db, emailVerificationToken="v", passwordResetToken="r",
                              pendingEmail="x@example.com", pendingEmailToken="p")
        for sid in ("mine", "other"):
            await user_sessions.add_session(db, user.id, sid, 5, NOW)
        checked = await users.find_by_id(db, user.id)
        assert checked is not None
        assert await user_credentials.set_password(db, checked, "h2", "mine", NOW)
        doc = await db.users.find_one({})
        assert doc["activeSessions"] == ["mine"]
        assert doc["credentialVersion"] == 1
        for name in user_credentials.NO_MAILED_LINKS:
            assert doc[name] is None


class TestEmailChange:
    async def test_confirmation_switches_the_email(self, db: Any) -> None:
        user = await new_user(db)
        pending = await user_credentials.request_email_change(
            db, user, None, {}, "new@example.com", "hash", NOW + timedelta(hours=1), NOW)
        assert pending is not None
        assert (pending.email, pending.pending_email) == (user.email, "new@example.com")
        confirmed = await user_credentials.confirm_email_change(db, "hash", NOW)
        assert confirmed is not None
        assert (confirmed.email, confirmed.pending_email) == ("new@example.com", None)
        assert await user_credentials.confirm_email_change(db, "hash", NOW) is None

    async def test_an_expired_link_does_nothing(self, db: Any) -> None:
        user = await new_user(db)
        await user_credentials.request_email_change(
            db, user, None, {}, "new@example.com", "hash", NOW, NOW)
        assert await user_credentials.confirm_email_change(db, "hash", NOW) is None

    async def test_an_address_taken_meanwhile_drops_the_change(self, db: Any) -> None:
        user = await new_user(db)
        await user_credentials.request_email_change(
            db, user, None, {}, "new@example.com", "hash", NOW + timedelta(hours=1), NOW)
        await new_user(db, "NEW@example.com")
        with pytest.raises(EmailTaken):
            await user_credentials.confirm_email_change(db, "hash", NOW)
        doc = await db.users.find_one({"_id": users.object_id(user.id)})
        assert (doc["email"], doc["pendingEmail"], doc["pendingEmailToken"]) == \
            (user.email, None, None)
