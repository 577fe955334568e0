"""Quota counters in this process's memory: for one gateway process, tests and development.

Atomic because each method runs without awaiting in between (one event loop). Several workers or
hosts need the database or Redis backend; `serve --workers N` refuses this one.
"""

from __future__ import annotations

from datetime import date, timedelta

KEEP_DAYS = 2


class MemoryCounter:
    persists_through_ledger = False

    def __init__(self) -> None:
        self._counts: dict[tuple[date, str, str], int] = {}
        self._newest_day: date | None = None

    def _forget_old_days(self, day: date) -> None:
        """Drop counters of days long gone, so memory stays bounded by about two days of users."""
        if self._newest_day is not None and day <= self._newest_day:
            return
        self._newest_day = day
        oldest = day - timedelta(days=KEEP_DAYS)
        for key in [key for key in self._counts if key[0] < oldest]:
            del self._counts[key]

    async def reserve(self, *, user_id: str, rule_key: str, day: date, limit: int) -> int | None:
        self._forget_old_days(day)
        key = (day, rule_key, user_id)
        used = self._counts.get(key, 0)
        if used >= limit:
            return None
        self._counts[key] = used + 1
        return limit - used - 1

    async def release(self, *, user_id: str, rule_key: str, day: date) -> None:
        key = (day, rule_key, user_id)
        used = self._counts.get(key, 0)
        if used > 1:
            self._counts[key] = used - 1
        else:
            self._counts.pop(key, None)

    async def used(self, *, user_id: str, rule_key: str, day: date) -> int:
        return self._counts.get((day, rule_key, user_id), 0)

    async def aclose(self) -> None:
        self._counts.clear()
