"""Time in one place: aware UTC datetimes and the ISO-8601 `Z` format of the contract."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the default app clock)."""
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z` suffix and millisecond precision; None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # Mongo hands back naive UTC unless tz_aware; be safe
        moment = moment.replace(tzinfo=UTC)
    if moment.tzinfo is not UTC:  # converting is the costly part: only when needed
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
