"""One batch into the ledger and the daily roll-up, in the caller's transaction.

Why the roll-up follows `RETURNING`: only rows the INSERT actually created are added to
`daily_cost_summary`, so a request written twice (a retry, a journal replay after a crash) is counted
once in the ledger and once in the totals. The day is the quota day (UNILLM_QUOTA_TIMEZONE).
The same inserted rows also feed `daily_usage_segments` (per tier and source), in the same
transaction, so both roll-ups always agree with the log.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from unillm.access.models import QuotaCounter
from unillm.access.quota.days import quota_day
from unillm.db.types import utcnow
from unillm.usage import sqlite_rows
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


_LOGS: Table = UsageLog.__table__  # type: ignore[assignment]


def _insert_for(dialect: str, table: Table) -> Any:
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


# The statements are built once per dialect and kept: building an ON CONFLICT statement (its
# `excluded` alias, one expression per measure) cost more CPU than executing it, on every batch.
@functools.cache
def _adding_upsert(dialect: str, table: Table, key_names: tuple[str, ...], measures: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET measure = measure + excluded.measure, ..."""
    upsert = _insert_for(dialect, table)
    set_: dict[str, Any] = {name: table.c[name] + upsert.excluded[name] for name in measures}
    if "updated_at" in table.c:
        set_["updated_at"] = upsert.excluded.updated_at
    return upsert.on_conflict_do_update(index_elements=list(key_names), set_=set_)


@functools.cache
def _insert_ignoring_duplicates(dialect: str) -> Any:
    return (_insert_for(dialect, _LOGS).on_conflict_do_nothing(index_elements=["request_id"])
            .returning(_LOGS.c.request_id))


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


def _add_to(session: Session, table: Table, key_names: Sequence[str],
                  groups: dict[Any, _Totals]) -> None:
    """One fixed upsert statement, executed with one parameter set per group."""
    upsert = _adding_upsert(session.get_bind().dialect.name, table, tuple(key_names), MEASURES)
    session.execute(upsert, [
        {**dict(zip(key_names, key, strict=True)),
         "total_cost_usd": totals.cost_usd, "total_requests": totals.requests,
         "total_tokens": totals.tokens, "unpriced_requests": totals.unpriced,
         "prompt_tokens": totals.prompt, "cached_prompt_tokens": totals.cached,
         "completion_tokens": totals.completion, "error_requests": totals.errors}
        for key, totals in groups.items()
    ])


def _insert_new_returning(session: Session, unique: dict[str, UsageRecord]) -> set[str]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the ids the statement actually inserted.

    One fixed statement executed with a list of parameter sets: SQLAlchemy compiles it once and
    batches the rows itself ("insertmanyvalues"). A `.values([...])` statement would be compiled anew
    for every batch, which cost a quarter of the gateway's CPU under load."""
    statement = _insert_ignoring_duplicates(session.get_bind().dialect.name)
    result = session.execute(statement, [r.to_row() for r in unique.values()])
    return set(result.scalars())


def _insert_new_on_sqlite(session: Session, unique: dict[str, UsageRecord]) -> set[str]:
    """Look up which ids exist, then one plain multi-row INSERT of the others (usage/sqlite_rows.py).

    Why not RETURNING on SQLite: the batch runs on a thread (usage/sqlite_sink.py), and every
    returned row is one `sqlite3_step` that gives up the GIL and must win it back from the busy event
    loop; a 500-row batch took half a second under load. This way a batch is a few statements."""
    connection = session.connection().connection.dbapi_connection
    return set(sqlite_rows.insert_new(connection, session.get_bind().dialect, unique))


async def write_batch(*, session: AsyncSession, records: Sequence[UsageRecord], tz: ZoneInfo) -> int:
    """`write_batch_sync` in an async session's transaction."""
    return await session.run_sync(lambda sync_session: write_batch_sync(sync_session, records=records, tz=tz))


def write_batch_sync(session: Session, *, records: Sequence[UsageRecord], tz: ZoneInfo) -> int:
    """Insert the records that are new and add them to both roll-ups; returns how many were new.

    Synchronous so that one batch can run whole on a thread with a plain SQLite connection; async
    callers go through `write_batch`."""
    unique: dict[str, UsageRecord] = {}
    for record in records:
        unique.setdefault(record.request_id, record)
    if not unique:
        return 0
    if session.get_bind().dialect.name == "sqlite":
        inserted = _insert_new_on_sqlite(session, unique)
    else:
        inserted = _insert_new_returning(session, unique)
    if not inserted:
        return 0
    new = [unique[request_id] for request_id in inserted]
    summary: Table = DailyCostSummary.__table__  # type: ignore[assignment]
    _add_to(session, summary, SUMMARY_KEY, aggregate(new, tz))
    segments: Table = DailyUsageSegment.__table__  # type: ignore[assignment]
    _add_to(session, segments, SEGMENT_KEY, aggregate(new, tz, segment_key))
    _add_quota_units(session, new)
    return len(inserted)


def _add_quota_units(session: Session, new: Sequence[UsageRecord]) -> None:
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
    upsert = _adding_upsert(session.get_bind().dialect.name, counters, ("user_id", "rule_key", "day"),
                            ("count",))
    now = utcnow()
    session.execute(upsert, [
        {"user_id": user_id, "rule_key": rule_key, "day": day, "count": count, "updated_at": now}
        for (user_id, rule_key, day), count in units.items()
    ])
