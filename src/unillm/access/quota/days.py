"""The quota day: the calendar day in UNILLM_QUOTA_TIMEZONE, and how long until it ends.

A day in a zone with daylight saving time lasts 23 or 25 hours on the switch days, so the reset is
the next local midnight converted to UTC, never "now + 24 h" or "seconds to midnight UTC".
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("quota days need an aware datetime (use unillm.db.types.utcnow())")


def quota_day(now: datetime, tz: ZoneInfo) -> date:
    """The quota day that `now` falls in, in zone `tz`."""
    _require_aware(now)
    return now.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which local `day` begins.

    Where a DST switch skips midnight, zoneinfo resolves the missing 00:00 with the offset in force
    before the switch, which is exactly the instant the switch happens: the first moment of the day.
    """
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def next_reset(now: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the quota day containing `now` ends."""
    return day_start(quota_day(now, tz) + timedelta(days=1), tz)


def seconds_until_reset(now: datetime, tz: ZoneInfo) -> int:
    """Whole seconds (rounded up, at least 1) until the next quota day begins: the `Retry-After`."""
    remaining = (next_reset(now, tz) - now.astimezone(UTC)).total_seconds()
    return max(1, math.ceil(remaining))
