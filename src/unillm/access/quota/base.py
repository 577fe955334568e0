"""The interface every quota counter store implements.

A counter holds how many requests one user made under one tier rule on one quota day. `reserve`
checks and increments in one atomic step, so concurrent requests (in one process or many) can never
admit more than the limit; `release` gives a unit back when the gateway or upstream failed.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

# Counters are kept about two days: long enough for any time zone's day plus clock skew.
COUNTER_TTL_SECONDS = 2 * 24 * 3600


@runtime_checkable
class QuotaCounter(Protocol):
    # True when the count lives in this process and each usage row carries its unit to the table
    # (access/quota/ledger.py); the stores that write on every reserve say False.
    persists_through_ledger: bool

    async def reserve(self, *, user_id: str, rule_key: str, day: date, limit: int) -> int | None:
        """If used < limit: count one more and return what remains (limit - used); else None, unchanged."""
        ...

    async def release(self, *, user_id: str, rule_key: str, day: date) -> None:
        """Give back one unit (never below zero)."""
        ...

    async def used(self, *, user_id: str, rule_key: str, day: date) -> int:
        """How many units are counted (0 for an unknown counter)."""
        ...

    async def aclose(self) -> None:
        ...
