"""The outbox model against a real database: queueing, atomic claims, outcomes, indexes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from models import outbox
from models.outbox import OutgoingMail
from server.core.clock import utcnow

LEASE = timedelta(seconds=60)


def mail(to: str = "ann@example.com") -> OutgoingMail:
    return OutgoingMail(to=to, subject="Hello", text="secret-link", html="<p>secret-link</p>")



class TestEnqueue:
    async def test_a_new_message_is_pending_and_due_now(self, db: Any) -> None:
        now = utcnow()
        message_id = await outbox.enqueue(db, mail(), now)
        stored = await outbox.get(db, message_id)
        assert stored is not None
        assert (stored.to, stored.subject, stored.text) == ("ann@example.com", "Hello",
                                                            "secret-link")
        assert stored.status == outbox.PENDING
        assert stored.attempts == 0
        assert abs(stored.next_attempt_at - now) < timedelta(milliseconds=2)

    async def test_get_unknown_or_malformed_id_is_none(self, db: Any) -> None:
        assert await outbox.get(db, "not-an-id") is None
        assert await outbox.get(db, "0" * 24) is None


class TestClaim:
    async def test_claims_the_oldest_due_message_and_counts_an_attempt(self, db: Any) -> None:
        now = utcnow()
        first = await outbox.enqueue(db, mail("a@example.com"), now - timedelta(seconds=2))
        await outbox.enqueue(db, mail("b@example.com"), now - timedelta(seconds=1))
        claimed = await outbox.claim_due(db, now, LEASE, "c1")
        assert claimed is not None
        assert claimed.id == first
        assert claimed.attempts == 1
        assert claimed.next_attempt_at >= now + LEASE - timedelta(milliseconds=2)

    async def test_a_message_not_yet_due_is_not_claimed(self, db: Any) -> None:
        now = utcnow()
        await outbox.enqueue(db, mail(), now + timedelta(seconds=30))
        assert await outbox.claim_due(db, now, LEASE, "c1") is None

    async def test_a_claimed_message_is_held_until_its_lease_ends(self, db: Any) -> None:
        now = utcnow()
        await outbox.enqueue(db, mail(), now)
        assert await outbox.claim_due(db, now, LEASE, "c1") is not None
        assert await outbox.claim_due(db, now + timedelta(seconds=59), LEASE, "c2") is None
        retaken = await outbox.claim_due(db, now + timedelta(seconds=61), LEASE, "c2")
        assert retaken is not None
        assert retaken.attempts == 2

    async def test_concurrent_claims_never_hand_out_a_message_twice(self, db: Any) -> None:
        now = utcnow()
        ids = {await outbox.enqueue(db, mail(f"u{i}@example.com"), now) for i in range(8)}

        async def claimer(name: str) -> list[str]:
            got = []
            while (message := await outbox.claim_due(db, now, LEASE, name)) is not None:
                got.append(message.id)
            return got

        results = await asyncio.gather(*(claimer(f"c{i}") for i in range(4)))
        taken = [message_id for got in results for message_id in got]
        assert sorted(taken) == sorted(ids)


class TestOutcomes:
    async def _claimed(self, db: Any) -> tuple[str, Any]:
        now = utcnow()
        await outbox.enqueue(db, mail(), now)
        message = await outbox.claim_due(db, now, LEASE, "mine")
        assert message is not None
        return message.id, now

    async def test_sent_strips_the_body_which_holds_a_token(self, db: Any) -> None:
        message_id, now = await self._claimed(db)
        assert await outbox.mark_sent(db, message_id, "mine", now)
        stored = await outbox.get(db, message_id)
        assert stored is not None
        assert stored.status == outbox.SENT
        assert (stored.text, stored.html) == ("", "")
        assert stored.finished_at is not None
        raw = await db[outbox.COLLECTION].find_one({})
        assert "secret-link" not in str(raw)

    async def test_a_lost_claim_cannot_write_the_outcome(self, db: Any) -> None:
        message_id, now = await self._claimed(db)
        assert not await outbox.mark_sent(db, message_id, "someone-else", now)
        assert not await outbox.schedule_retry(db, message_id, "someone-else", now, "X")
        stored = await outbox.get(db, message_id)
        assert stored is not None
        assert stored.status == outbox.PENDING

    async def test_retry_releases_the_message_for_later(self, db: Any) -> None:
        message_id, now = await self._claimed(db)
        later = now + timedelta(seconds=5)
        assert await outbox.schedule_retry(db, message_id, "mine", later, "SMTPConnectError")
        stored = await outbox.get(db, message_id)
        assert stored is not None
        assert stored.status == outbox.PENDING
        assert stored.last_error == "SMTPConnectError"
        assert stored.text == "secret-link"
        assert await outbox.claim_due(db, now + timedelta(seconds=4), LEASE, "x") is None
        assert await outbox.claim_due(db, later, LEASE, "x") is not None

    async def test_failed_keeps_the_error_and_drops_the_body(self, db: Any) -> None:
        message_id, now = await self._claimed(db)
        assert await outbox.mark_failed(db, message_id, "mine", now, "SMTPDataError 554")
        stored = await outbox.get(db, message_id)
        assert stored is not None
        assert (stored.status, stored.last_error, stored.text) == ("failed",
                                                                   "SMTPDataError 554", "")
        assert await outbox.claim_due(db, now + timedelta(days=1), LEASE, "x") is None
        assert await outbox.count_by_status(db) == {"pending": 0, "sent": 0, "failed": 1}


class TestGuardedMessages:
    async def test_the_guard_is_stored_and_read_back(self, db: Any) -> None:
        guard = outbox.Guard("emailVerificationToken", "h" * 64)
        message_id = await outbox.enqueue(db, mail(), utcnow(), guard=guard)
        stored = await outbox.get(db, message_id)
        assert stored is not None
        assert stored.guard == guard
        plain = await outbox.get(db, await outbox.enqueue(db, mail(), utcnow()))
        assert plain is not None
        assert plain.guard is None

    async def test_defer_releases_without_counting_the_attempt(self, db: Any) -> None:
        now = utcnow()
        await outbox.enqueue(db, mail(), now)
        message = await outbox.claim_due(db, now, LEASE, "mine")
        assert message is not None
        later = now + timedelta(seconds=1)
        assert not await outbox.defer(db, message.id, "someone-else", later)
        assert await outbox.defer(db, message.id, "mine", later)
        assert await outbox.claim_due(db, now, LEASE, "x") is None
        again = await outbox.claim_due(db, later, LEASE, "x")
        assert again is not None
        assert again.attempts == 1

    async def test_cancel_finishes_the_message_and_drops_its_body(self, db: Any) -> None:
        now = utcnow()
        await outbox.enqueue(db, mail(), now)
        message = await outbox.claim_due(db, now, LEASE, "mine")
        assert message is not None
        assert await outbox.cancel(db, message.id, "mine", now)
        stored = await outbox.get(db, message.id)
        assert stored is not None
        assert (stored.status, stored.text) == (outbox.CANCELLED, "")
        assert stored.finished_at is not None
        assert await outbox.claim_due(db, now + timedelta(days=1), LEASE, "x") is None

    async def test_discard_deletes_a_pending_message_only(self, db: Any) -> None:
        now = utcnow()
        pending = await outbox.enqueue(db, mail(), now)
        await outbox.discard(db, pending)
        assert await outbox.get(db, pending) is None
        sent = await outbox.enqueue(db, mail(), now)
        assert await outbox.claim_due(db, now, LEASE, "c") is not None
        assert await outbox.mark_sent(db, sent, "c", now)
        await outbox.discard(db, sent)
        assert await outbox.get(db, sent) is not None


class TestIndexes:
    async def test_due_scan_and_expiry_indexes_exist(self, db: Any) -> None:
        info = await db[outbox.COLLECTION].index_information()
        assert info["status_due"]["key"] == [("status", 1), ("nextAttemptAt", 1)]
        assert info["finished_ttl"]["expireAfterSeconds"] == 7 * 86400

    async def test_ensure_indexes_is_idempotent(self, db: Any) -> None:
        await outbox.ensure_indexes(db)
        assert "status_due" in await db[outbox.COLLECTION].index_information()
