"""One batch into the ledger and the daily roll-up, in the caller's transaction.

Why the roll-up follows `RETURNING`: only rows the INSERT actually created are added to
`daily_cost_summary`, so a request written twice (a retry, a journal replay after a crash) is counted
once in the ledger and once in the totals. The day is the quota day (UNILLM_QUOTA_TIMEZONE).
The same inserted rows also feed `daily_usage_segments` (per tier and source), in the same
transaction, so both roll-ups always agree with the log.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.access.models import QuotaCounter
from unillm.access.quota.days import quota_day
from unillm.db.types import utcnow
from unillm.usage.models import DailyCostSummary, DailyUsageSegment, UsageLog
from unillm.usage.records import UsageRecord

# The roll-up's key columns cannot be NULL; a record without a user, provider, tier or source is
# filed under "".
UNKNOWN = ""
MEASURES = ("total_cost_usd", "total_requests", "total_tokens", "unpriced_requests", "prompt_tokens",
            "cached_prompt_tokens", "completion_tokens", "error_requests")
SUMMARY_KEY = ("date", "user_id", "provider", "model_id")
SEGMENT_KEY = ("date", "tier_code", "source", "provider", "model_id")


@dataclass(slots=True)
class _Totals:
    cost_usd: Decimal = Decimal(0)
    requests: int = 0
    tokens: int = 0
    unpriced: int = 0
    prompt: int = 0
    cached: int = 0
    completion: int = 0
    errors: int = 0


def _insert(session: AsyncSession, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def rollup_key(record: UsageRecord, tz: ZoneInfo) -> tuple[date, str, str, str]:
    return (quota_day(record.timestamp, tz), record.user_id or UNKNOWN, record.provider or UNKNOWN,
            record.model_id)


def segment_key(record: UsageRecord, tz: ZoneInfo) -> tuple[date, str, str, str, str]:
    return (quota_day(record.timestamp, tz), record.tier_code or UNKNOWN, record.source or UNKNOWN,
            record.provider or UNKNOWN, record.model_id)


def aggregate(records: Sequence[UsageRecord], tz: ZoneInfo,
              key: Callable[[UsageRecord, ZoneInfo], Hashable] = rollup_key) -> dict[Any, _Totals]:
    groups: dict[Any, _Totals] = {}
    for record in records:
        totals = groups.setdefault(key(record, tz), _Totals())
        totals.requests += 1
        totals.tokens += record.total_tokens
        totals.prompt += record.prompt_tokens
        totals.cached += record.cached_prompt_tokens
        totals.completion += record.completion_tokens
        totals.errors += record.status == "error"
        if record.cost_usd is None:
            totals.unpriced += 1
        else:
            totals.cost_usd += record.cost_usd
    return groups


async def _add_to(session: AsyncSession, table: Table, key_names: Sequence[str],
                  groups: dict[Any, _Totals]) -> None:
    """One fixed upsert statement, executed with one parameter set per group."""
    upsert = _insert(session, table)
    upsert = upsert.on_conflict_do_update(
        index_elements=list(key_names),
        set_={name: table.c[name] + upsert.excluded[name] for name in MEASURES},
    )
    await session.execute(upsert, [
        {**dict(zip(key_names, key, strict=True)),
         "total_cost_usd": totals.cost_usd, "total_requests": totals.requests,
         "total_tokens": totals.tokens, "unpriced_requests": totals.unpriced,
         "prompt_tokens": totals.prompt, "cached_prompt_tokens": totals.cached,
         "completion_tokens": totals.completion, "error_requests": totals.errors}
        for key, totals in groups.items()
    ])


async def write_batch(*, session: AsyncSession, records: Sequence[UsageRecord], tz: ZoneInfo) -> int:
    """Insert the records that are new and add them to both roll-ups; returns how many were new."""
    unique: dict[str, UsageRecord] = {}
    for record in records:
        unique.setdefault(record.request_id, record)
    if not unique:
        return 0
    # One fixed statement executed with a list of parameter sets: SQLAlchemy compiles it once and
    # batches the rows itself ("insertmanyvalues"). A `.values([...])` statement would be compiled
    # anew for every batch, which cost a quarter of the gateway's CPU under load.
    logs: Table = UsageLog.__table__  # type: ignore[assignment]
    statement = (_insert(session, logs).on_conflict_do_nothing(index_elements=["request_id"])
                 .returning(logs.c.request_id))
    result = await session.execute(statement, [r.to_row() for r in unique.values()])
    inserted = set(result.scalars())
    if not inserted:
        return 0
    new = [unique[request_id] for request_id in inserted]
    summary: Table = DailyCostSummary.__table__  # type: ignore[assignment]
    await _add_to(session, summary, SUMMARY_KEY, aggregate(new, tz))
    segments: Table = DailyUsageSegment.__table__  # type: ignore[assignment]
    await _add_to(session, segments, SEGMENT_KEY, aggregate(new, tz, segment_key))
    await _add_quota_units(session, new)
    return len(inserted)


async def _add_quota_units(session: AsyncSession, new: Sequence[UsageRecord]) -> None:
    """Persist the quota units of newly inserted rows (counters kept in memory by the gateway): in the
    ledger's transaction, so a unit is counted exactly when its row exists."""
    units: dict[tuple[str, str, date], int] = {}
    for record in new:
        if record.quota_unit is not None and record.user_id is not None:
            key = (record.user_id, record.quota_unit.rule_key, record.quota_unit.day)
            units[key] = units.get(key, 0) + 1
    if not units:
        return
    counters: Table = QuotaCounter.__table__  # type: ignore[assignment]
    upsert = _insert(session, counters)
    upsert = upsert.on_conflict_do_update(
        index_elements=["user_id", "rule_key", "day"],
        set_={"count": counters.c.count + upsert.excluded.count, "updated_at": upsert.excluded.updated_at},
    )
    now = utcnow()
    await session.execute(upsert, [
        {"user_id": user_id, "rule_key": rule_key, "day": day, "count": count, "updated_at": now}
        for (user_id, rule_key, day), count in units.items()
    ])
