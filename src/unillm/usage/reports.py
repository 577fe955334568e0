"""Read side of the ledger: filtered log pages, cost summaries, the CSV export and billing statements.

Why summaries read the daily roll-ups: a 30-day report must not scan millions of log rows.
`daily_cost_summary` holds one row per (day, user, provider, model) and answers day, user, model and
provider; `daily_usage_segments` holds one per (day, tier, source, provider, model) and answers tier
and source. Both are written from the same inserted rows as the log, so they add up to it.
Billing statements list one user's month.
Exports page by primary key (keyset), one batch at a time, so memory stays flat however many rows
a month holds.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from unillm.access.quota.days import day_start, quota_day
from unillm.db.types import utcnow
from unillm.errors import BadRequest
from unillm.usage.models import DailyCostSummary, DailyUsageSegment, UsageLog
from unillm.usage.pricing import money_str
from unillm.usage.schemas import GroupBy, SummaryGroup, UsageFilters, UsageLogPage, UsageLogRead, UsageSummary

MAX_PAGE = 500
EXPORT_BATCH = 5000
MAX_SUMMARY_DAYS = 3660
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9998, 12, 31)
EXPORT_COLUMNS = ("id", "request_id", "timestamp", "user_id", "tier_code", "model_id", "provider",
                  "source", "status", "status_code", "prompt_tokens", "cached_prompt_tokens",
                  "completion_tokens", "total_tokens", "usage_estimated", "cost_usd",
                  "input_price_per_1k", "output_price_per_1k", "cached_input_price_per_1k",
                  "latency_ms", "time_to_first_token_ms")


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19:
        raise BadRequest("cursor is not one this API returned", param="cursor")
    return int(cursor)


def check_filters(filters: UsageFilters) -> None:
    for value in (filters.since, filters.until):
        if value is not None and value.tzinfo is None:
            raise BadRequest("since/until need a time zone (for example 2026-11-24T00:00:00Z)")


def _conditions(filters: UsageFilters) -> list[ColumnElement[bool]]:
    check_filters(filters)
    conditions: list[ColumnElement[bool]] = []
    for name in ("user_id", "model_id", "provider", "status", "source"):
        value = getattr(filters, name)
        if value is not None:
            conditions.append(getattr(UsageLog, name) == value)
    if filters.since is not None:
        conditions.append(UsageLog.timestamp >= filters.since)
    if filters.until is not None:
        conditions.append(UsageLog.timestamp < filters.until)
    return conditions


async def list_logs(*, session: AsyncSession, filters: UsageFilters, limit: int = 100,
                    cursor: str | None = None) -> UsageLogPage:
    """Newest first; `next_cursor` is the last id shown (the next page has smaller ids)."""
    limit = max(1, min(limit, MAX_PAGE))
    statement = select(UsageLog).where(*_conditions(filters)).order_by(UsageLog.id.desc()).limit(limit + 1)
    after = parse_cursor(cursor)
    if after is not None:
        statement = statement.where(UsageLog.id < after)
    rows = list(await session.scalars(statement))
    items = [UsageLogRead.model_validate(row) for row in rows[:limit]]
    return UsageLogPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


def date_range(start: date | None, end: date | None, tz: ZoneInfo) -> tuple[date, date]:
    """Inclusive quota days; default the last 30 days up to today."""
    for value, name in ((start, "from"), (end, "to")):
        if value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
            raise BadRequest(f"'{name}' must be between {EARLIEST_DAY} and {LATEST_DAY}", param=name)
    end = end or quota_day(utcnow(), tz)
    start = start or max(EARLIEST_DAY, end - timedelta(days=29))
    if start > end:
        raise BadRequest("'from' is after 'to'", param="from")
    if (end - start).days > MAX_SUMMARY_DAYS:
        raise BadRequest(f"a summary covers at most {MAX_SUMMARY_DAYS} days", param="from")
    return start, end


_MEASURES = ("total_cost_usd", "total_requests", "total_tokens", "unpriced_requests", "prompt_tokens",
             "cached_prompt_tokens", "completion_tokens", "error_requests")
_COUNTS = ("requests", "tokens", "unpriced_requests", "prompt_tokens", "cached_prompt_tokens",
           "completion_tokens", "error_requests")


def _group(key: Any, cost: Any, *counts: Any) -> SummaryGroup:
    label = key.isoformat() if isinstance(key, date) else ("" if key is None else str(key))
    values = {name: int(value or 0) for name, value in zip(_COUNTS, counts, strict=True)}
    return SummaryGroup(key=label, cost_usd=Decimal(cost or 0), **values)


async def summary(*, session: AsyncSession, start: date | None, end: date | None, group_by: GroupBy,
                  tz: ZoneInfo) -> UsageSummary:
    """Cost, requests, tokens, unpriced and failed requests per group over inclusive quota days."""
    start, end = date_range(start, end, tz)
    table: Any = DailyUsageSegment if group_by in ("tier", "source") else DailyCostSummary
    column = {"day": table.date, "user": DailyCostSummary.user_id, "model": table.model_id,
              "provider": table.provider, "tier": DailyUsageSegment.tier_code,
              "source": DailyUsageSegment.source}[group_by]
    rolled = (select(column, *(func.sum(getattr(table, name)) for name in _MEASURES))
              .where(table.date >= start, table.date <= end)
              .group_by(column).order_by(column))
    rows: list[Any] = list(await session.execute(rolled))
    groups = [_group(*row) for row in rows]
    totals = {name: sum(getattr(g, name) for g in groups) for name in _COUNTS}
    total = SummaryGroup(key="total", cost_usd=sum((g.cost_usd for g in groups), Decimal(0)), **totals)
    return UsageSummary(from_date=start, to_date=end, group_by=group_by, groups=groups, total=total)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return money_str(value)
    return value


def csv_chunk(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return buffer.getvalue().encode("utf-8")


async def iter_log_batches(*, sessions: async_sessionmaker[AsyncSession], filters: UsageFilters,
                           columns: Sequence[str] = EXPORT_COLUMNS,
                           batch: int = EXPORT_BATCH) -> AsyncIterator[Sequence[Any]]:
    """Matching rows in id order, `batch` at a time, each batch in a short read of its own."""
    selected = [getattr(UsageLog, "metadata_" if name == "metadata" else name) for name in columns]
    conditions = _conditions(filters)
    last_id = 0
    while True:
        async with sessions() as session:
            result = await session.execute(
                select(*selected).where(UsageLog.id > last_id, *conditions)
                .order_by(UsageLog.id).limit(batch))
            rows = result.all()
        if not rows:
            return
        yield rows
        if len(rows) < batch:
            return
        last_id = rows[-1][0]


async def export_csv(*, sessions: async_sessionmaker[AsyncSession], filters: UsageFilters,
                     batch: int = EXPORT_BATCH) -> AsyncIterator[bytes]:
    """The CSV export as a byte stream: a header, then one chunk per batch.

    On PostgreSQL the server formats the CSV itself (`COPY (SELECT ...) TO STDOUT`, one snapshot,
    streamed with back-pressure): four times the rows/s of formatting in Python, same bytes.
    """
    check_filters(filters)
    yield csv_chunk([], EXPORT_COLUMNS)
    async with sessions() as session:
        dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        async for chunk in _pg_copy_csv(sessions=sessions, filters=filters):
            yield chunk
        return
    async for rows in iter_log_batches(sessions=sessions, filters=filters, batch=batch):
        yield csv_chunk(rows)


_PG_EXPRESSIONS = {
    "timestamp": "to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00'",
    "usage_estimated": "CASE WHEN usage_estimated THEN 'true' ELSE 'false' END",
    **{name: f"trim_scale({name})" for name in ("cost_usd", "input_price_per_1k", "output_price_per_1k",
                                                  "cached_input_price_per_1k")},
}


def _pg_export_query(filters: UsageFilters) -> tuple[str, list[Any]]:
    args: list[Any] = []
    where: list[str] = []
    for name in ("user_id", "model_id", "provider", "status", "source"):
        value = getattr(filters, name)
        if value is not None:
            args.append(value)
            where.append(f"{name} = ${len(args)}")
    for value, operator in ((filters.since, ">="), (filters.until, "<")):
        if value is not None:
            args.append(value)
            where.append(f"timestamp {operator} ${len(args)}")
    columns = ", ".join(_PG_EXPRESSIONS.get(name, name) for name in EXPORT_COLUMNS)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {columns} FROM llm_usage_logs{clause} ORDER BY id", args


async def _pg_copy_csv(*, sessions: async_sessionmaker[AsyncSession],
                       filters: UsageFilters) -> AsyncIterator[bytes]:
    import asyncio

    query, args = _pg_export_query(filters)
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)

    async def sink(data: bytes) -> None:
        await chunks.put(bytes(data))  # a full queue pauses the COPY: memory stays flat

    async with sessions() as session:
        connection = await session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None

        async def copy() -> None:
            try:
                await raw.copy_from_query(query, *args, output=sink, format="csv")
            finally:
                await chunks.put(None)

        task = asyncio.create_task(copy())
        try:
            while (chunk := await chunks.get()) is not None:
                yield chunk
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """`YYYY-MM` to the UTC instants where that month begins and ends in the quota time zone."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError as exc:
        raise BadRequest("month must be YYYY-MM", param="month") from exc
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return day_start(first, tz), day_start(following, tz)


# Billing statements: each line carries its request id, so a billing system importing a statement
# twice (or a corrected re-export) can de-duplicate on the same key that makes the ledger idempotent.
LINE_COLUMNS = ("id", "request_id", "timestamp", "model_id", "provider", "status", "prompt_tokens",
                "cached_prompt_tokens", "completion_tokens", "total_tokens", "usage_estimated",
                "cost_usd", "input_price_per_1k", "output_price_per_1k", "cached_input_price_per_1k")


def _filters(user: str, month: str, tz: ZoneInfo) -> UsageFilters:
    since, until = month_bounds(month, tz)
    return UsageFilters(user_id=user, since=since, until=until)


async def totals(*, session: AsyncSession, user: str, month: str, tz: ZoneInfo) -> dict[str, Any]:
    since, until = month_bounds(month, tz)
    row = (await session.execute(
        select(func.sum(UsageLog.cost_usd), func.count(), func.sum(UsageLog.total_tokens),
               func.sum(case((UsageLog.cost_usd.is_(None), 1), else_=0)))
        .where(UsageLog.user_id == user, UsageLog.timestamp >= since, UsageLog.timestamp < until))).one()
    return {"user": user, "month": month, "currency": "USD",
            "total_cost_usd": money_str(Decimal(row[0] or 0)),
            "requests": int(row[1] or 0), "tokens": int(row[2] or 0), "unpriced_requests": int(row[3] or 0)}


def _line(row: Any) -> dict[str, Any]:
    line = dict(zip(LINE_COLUMNS, row, strict=True))
    line.pop("id")
    line["timestamp"] = line["timestamp"].isoformat()
    for name in ("cost_usd", "input_price_per_1k", "output_price_per_1k", "cached_input_price_per_1k"):
        line[name] = None if line[name] is None else money_str(line[name])
    return line


async def statement_json(*, sessions: async_sessionmaker[AsyncSession], user: str, month: str,
                         tz: ZoneInfo) -> AsyncIterator[bytes]:
    """`{"user", "month", "currency", "total_cost_usd", ..., "lines": [...]}`, streamed."""
    async with sessions() as session:
        head = await totals(session=session, user=user, month=month, tz=tz)
    yield orjson.dumps(head)[:-1] + b',"lines":['
    first = True
    async for rows in iter_log_batches(sessions=sessions, filters=_filters(user, month, tz),
                                       columns=LINE_COLUMNS):
        parts = [orjson.dumps(_line(row)) for row in rows]
        yield (b"" if first else b",") + b",".join(parts)
        first = False
    yield b"]}"


async def statement_csv(*, sessions: async_sessionmaker[AsyncSession], user: str, month: str,
                        tz: ZoneInfo) -> AsyncIterator[bytes]:
    yield csv_chunk([], ["user_id", *LINE_COLUMNS[1:]])
    async for rows in iter_log_batches(sessions=sessions, filters=_filters(user, month, tz),
                                       columns=LINE_COLUMNS):
        yield csv_chunk([(user, *row[1:]) for row in rows])
