"""`daily_usage_segments`: the tier/source roll-up adds up to the log, exactly, however it was filled.

Filled by the writer (`write_batch`, from the inserted rows only) or by migration 0005's backfill;
the summary by tier and by source reads it and must match a direct sum over the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, case, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.usage.conftest import TINY, UsageApi, make_record
from unillm.access.quota.days import day_start, quota_day
from unillm.db import migrate
from unillm.db.engine import create_engine, create_session_factory
from unillm.runtime import Runtime
from unillm.usage import reports
from unillm.usage.models import DailyUsageSegment, UsageLog
from unillm.usage.records import UsageRecord
from unillm.usage.rollup import write_batch

NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")  # +05:30: a zone whose days do not start on a whole UTC hour
MEASURES = ("total_cost_usd", "total_requests", "total_tokens", "unpriced_requests", "prompt_tokens",
            "cached_prompt_tokens", "completion_tokens", "error_requests")
Key = tuple[date, str, str, str, str]


def _records(base: datetime) -> list[UsageRecord]:
    """Tiers, sources and providers including missing ones, tiny and missing prices, errors, and
    timestamps on both sides of midnight in New York and in Kolkata."""
    records: list[UsageRecord] = []
    for i in range(60):
        records.append(make_record(
            timestamp=base + timedelta(minutes=37 * i), cached=(i % 3) * 10,
            tier_code=(None, "free", "pro")[i % 3], source=(None, "api", "openwebui", "cli")[i % 4],
            provider=None if i % 11 == 0 else "openai", model_id=("openai/gpt-4o", "local/llama")[i % 2],
            price=(TINY if i % 5 == 0 else None if i % 7 == 0 else make_record().price),
            prompt=1 if i % 5 == 0 else 100, completion=0 if i % 5 == 0 else 50,
            status="error" if i % 9 == 0 else "success"))
    return records


async def _log_totals(session: AsyncSession, tz: ZoneInfo) -> dict[Key, list[Any]]:
    """The expected roll-up: every log row read back and summed in Python (Decimal, exact)."""
    totals: dict[Key, list[Any]] = {}
    for row in await session.scalars(select(UsageLog)):
        key = (quota_day(row.timestamp, tz), row.tier_code or "", row.source or "", row.provider or "",
               row.model_id)
        values = [row.cost_usd or Decimal(0), 1, row.total_tokens, int(row.cost_usd is None),
                  row.prompt_tokens, row.cached_prompt_tokens, row.completion_tokens,
                  int(row.status == "error")]
        current = totals.setdefault(key, [Decimal(0), 0, 0, 0, 0, 0, 0, 0])
        totals[key] = [a + b for a, b in zip(current, values, strict=True)]
    return totals


async def _segments(session: AsyncSession) -> dict[Key, list[Any]]:
    rows = await session.scalars(select(DailyUsageSegment))
    return {(r.date, r.tier_code, r.source, r.provider, r.model_id): [getattr(r, m) for m in MEASURES]
            for r in rows}


def _by(totals: dict[Key, list[Any]], index: int) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for key, values in totals.items():
        current = grouped.setdefault(key[index], [Decimal(0), 0, 0, 0, 0, 0, 0, 0])
        grouped[key[index]] = [a + b for a, b in zip(current, values, strict=True)]
    return grouped


async def test_segments_add_up_to_the_logs_by_tier_and_by_source(runtime: Runtime) -> None:
    records = _records(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    async with runtime.sessions.begin() as session:
        assert await write_batch(session=session, records=records[:25], tz=NEW_YORK) == 25
    async with runtime.sessions.begin() as session:
        assert await write_batch(session=session, records=records[25:], tz=NEW_YORK) == 35
    async with runtime.sessions() as session:
        expected, actual = await _log_totals(session, NEW_YORK), await _segments(session)
    assert actual == expected
    assert len({key[0] for key in actual}) >= 2  # the batch spans New York days
    assert _by(actual, 1) == _by(expected, 1) and set(_by(actual, 1)) == {"", "free", "pro"}
    assert _by(actual, 2) == _by(expected, 2) and set(_by(actual, 2)) == {"", "api", "openwebui", "cli"}
    tiny = [r for r in records if r.price == TINY]  # one prompt token each: $0.000000004
    assert tiny and all(r.cost_usd == Decimal("0.000000004") for r in tiny)
    total_cost = sum((values[0] for values in actual.values()), Decimal(0))
    assert total_cost == sum((r.cost_usd or Decimal(0) for r in records), Decimal(0))
    assert sum(values[3] for values in actual.values()) == sum(r.cost_usd is None for r in records) > 0


async def test_a_replayed_request_id_counts_once(runtime: Runtime) -> None:
    record = make_record(request_id="req-replayed", price=TINY, prompt=1, completion=0, tier_code="pro")
    async with runtime.sessions.begin() as session:
        assert await write_batch(session=session, records=[record, record], tz=NEW_YORK) == 1
    async with runtime.sessions.begin() as session:
        assert await write_batch(session=session, records=[record], tz=NEW_YORK) == 0
    async with runtime.sessions() as session:
        segments = await _segments(session)
    assert list(segments.values()) == [[Decimal("0.000000004"), 1, 1, 0, 1, 0, 0, 0]]
    assert next(iter(segments))[1:3] == ("pro", "api")


def _log_sum_query(column: Any, start: date, end: date, tz: ZoneInfo) -> Any:
    key = func.coalesce(column, "")
    return (select(key, func.sum(UsageLog.cost_usd), func.count(), func.sum(UsageLog.total_tokens),
                   func.sum(case((UsageLog.cost_usd.is_(None), 1), else_=0)),
                   func.sum(UsageLog.prompt_tokens), func.sum(UsageLog.cached_prompt_tokens),
                   func.sum(UsageLog.completion_tokens),
                   func.sum(case((UsageLog.status == "error", 1), else_=0)))
            .where(UsageLog.timestamp >= day_start(start, tz),
                   UsageLog.timestamp < day_start(end + timedelta(days=1), tz))
            .group_by(key).order_by(key))


def _as_groups(rows: Sequence[Any]) -> list[dict[str, Any]]:
    names = ("key", "cost_usd", "requests", "tokens", "unpriced_requests", "prompt_tokens",
             "cached_prompt_tokens", "completion_tokens", "error_requests")
    return [{name: (Decimal(value or 0) if name == "cost_usd" else value)
             for name, value in zip(names, row, strict=True)} for row in rows]


@pytest.mark.parametrize("group_by", ["tier", "source"])
async def test_summary_by_tier_and_source_equals_a_direct_sum_over_the_logs(
        runtime: Runtime, group_by: str) -> None:
    records = _records(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    async with runtime.sessions.begin() as session:
        await write_batch(session=session, records=records, tz=NEW_YORK)
    start, end = date(2026, 11, 20), date(2026, 11, 20)  # one New York day: part of the rows
    column = UsageLog.tier_code if group_by == "tier" else UsageLog.source
    async with runtime.sessions() as session:
        result = await reports.summary(session=session, start=start, end=end,
                                       group_by=group_by,  # type: ignore[arg-type]
                                       tz=NEW_YORK)
        direct = _as_groups(list(await session.execute(_log_sum_query(column, start, end, NEW_YORK))))
    assert [group.model_dump() for group in result.groups] == direct
    assert 0 < result.total.requests < len(records)
    assert result.total.cost_usd == sum((g["cost_usd"] for g in direct), Decimal(0))


async def test_summary_endpoint_by_tier_and_source(api: UsageApi) -> None:
    records = _records(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    async with api.runtime.sessions.begin() as session:
        await write_batch(session=session, records=records, tz=ZoneInfo("UTC"))
    params = {"from": "2026-11-20", "to": "2026-11-21"}
    for group_by, column in (("tier", UsageLog.tier_code), ("source", UsageLog.source)):
        response = await api.client.get("/api/v1/usage/summary", params={**params, "group_by": group_by})
        assert response.status_code == 200, response.text
        async with api.runtime.sessions() as session:
            query = _log_sum_query(column, date(2026, 11, 20), date(2026, 11, 21), ZoneInfo("UTC"))
            direct = _as_groups(list(await session.execute(query)))
        groups = response.json()["groups"]
        assert [{**g, "cost_usd": Decimal(g["cost_usd"])} for g in groups] == direct
        assert sum(g["unpriced_requests"] for g in groups) > 0
        assert response.json()["total"]["requests"] == len(records)


async def test_migration_0005_backfills_the_segments_from_the_logs(
        empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNILLM_QUOTA_TIMEZONE", "Asia/Kolkata")
    await migrate.upgrade_async(empty_database_url, "0004")
    records = _records(datetime(2026, 11, 20, 17, 0, tzinfo=UTC))  # across Kolkata's midnight (18:30Z)
    records.append(make_record(timestamp=datetime(2026, 11, 20, 18, 29, 59, tzinfo=UTC)))
    records.append(make_record(timestamp=datetime(2026, 11, 20, 18, 30, tzinfo=UTC)))
    engine = create_engine(empty_database_url)
    try:
        logs: Table = UsageLog.__table__  # type: ignore[assignment]
        async with create_session_factory(engine).begin() as session:
            await session.execute(logs.insert(), [r.to_row() for r in records])
        await migrate.upgrade_async(empty_database_url)
        async with create_session_factory(engine)() as session:
            expected, actual = await _log_totals(session, KOLKATA), await _segments(session)
        assert actual == expected
        assert {date(2026, 11, 20), date(2026, 11, 21)} <= {key[0] for key in actual}
        assert sum(values[1] for values in actual.values()) == len(records)
        await migrate.downgrade_async(empty_database_url, "0004")
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        assert "daily_usage_segments" not in tables and "llm_usage_logs" in tables
    finally:
        await engine.dispose()
