"""The life of a signing key, computed from the stored keys and the time: pending (published,
not signing yet), current (signs), retired (published until its last token expires),
expired, revoked; and when a new key is owed (first start, schedule, revoked current key)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.signing_keys import StoredKey

# Token times are whole seconds: a retired key stays published this much past the last expiry.
_LEEWAY = timedelta(seconds=1)
# A key that must sign at once (the first, or a revoked one's replacement) is dated back this
# much: a request that read its clock a moment before the key was stored, on this worker or on
# another that won the race to store it, can sign with it instead of finding no key.
IN_FLIGHT = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class KeyView:
    key: StoredKey
    state: str  # pending | current | retired | expired | revoked
    retired_at: datetime | None  # when a newer key took over signing
    published_until: datetime | None  # retired keys: when the last token it signed expires

    @property
    def published(self) -> bool:
        return self.state in ("pending", "current", "retired")


@dataclass(frozen=True, slots=True)
class Plan:
    views: tuple[KeyView, ...]
    current: StoredKey | None  # the key that signs now (None: a new one is owed at once)
    rotation_due: bool  # the schedule owes a new pending key

    @property
    def published(self) -> tuple[StoredKey, ...]:
        return tuple(view.key for view in self.views if view.published)


def plan(keys: Sequence[StoredKey], now: datetime, access_ttl: timedelta,
         rotate_every: timedelta = timedelta(0),
         publish_ahead: timedelta = timedelta(0)) -> Plan:
    """What each of one algorithm's keys is at `now`. The current key is the newest key that
    has activated; when it is revoked, none signs until a new one is made."""
    ordered = sorted(keys, key=lambda k: k.seq)
    activated = [k for k in ordered if k.activates_at <= now]
    newest = activated[-1] if activated else None
    views = tuple(_view(k, activated, newest, now, access_ttl) for k in ordered)
    current = newest if newest is not None and newest.revoked_at is None else None
    pending = any(v.state == "pending" for v in views)
    due = (bool(rotate_every) and current is not None and not pending
           and current.activates_at + rotate_every - publish_ahead <= now)
    return Plan(views, current, due)


def _view(key: StoredKey, activated: list[StoredKey], newest: StoredKey | None,
          now: datetime, access_ttl: timedelta) -> KeyView:
    if key.revoked_at is not None:
        return KeyView(key, "revoked", None, None)
    if key.activates_at > now:
        return KeyView(key, "pending", None, None)
    if key is newest:
        return KeyView(key, "current", None, None)
    successor = next(k for k in activated if k.seq > key.seq)
    until = successor.activates_at + access_ttl + _LEEWAY
    return KeyView(key, "retired" if now < until else "expired", successor.activates_at, until)


def next_activation(current: StoredKey | None, now: datetime, rotate_every: timedelta,
                    publish_ahead: timedelta, *, scheduled: bool) -> datetime:
    """When a new key starts signing: at once when no key signs (dated back by IN_FLIGHT);
    else after the publish-ahead time (and, on schedule, not before the current key has
    served rotate_every)."""
    if current is None:
        return now - IN_FLIGHT
    ahead = now + publish_ahead
    return max(ahead, current.activates_at + rotate_every) if scheduled else ahead
