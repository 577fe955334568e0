"""The ledger's INSERT on SQLite, one level below SQLAlchemy's statement layer.

Why: on SQLite the usage writer runs in the gateway's own process, and SQLAlchemy's many-row path
(a parameter dict per row, each value through a generic per-column loop, statement batching) cost
about a third of the writer's time, some 15 µs a row. Here each row is one tuple built by a plain
function; every value still goes through the bind processor of its column's type, taken from
SQLAlchemy, so a row is exactly what the ORM would write (tests/usage/test_sqlite_rows.py compares).

Why multi-row VALUES and not `executemany`: every row of `executemany` is one `sqlite3_step`, and
every step gives up the GIL and must win it back from the busy event loop (up to the interpreter's
switch interval each time); a statement of up to 256 rows is one step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from unillm.usage.models import UsageLog
from unillm.usage.records import UsageRecord

_LOGS: Table = UsageLog.__table__  # type: ignore[assignment]
# The order of `_row` below; a test checks that it names every column but the generated id.
COLUMNS = ("request_id", "timestamp", "user_id", "api_key_id", "tier_code", "model_id", "provider",
           "server_id", "deployment_id", "source", "prompt_tokens", "cached_prompt_tokens",
           "completion_tokens", "total_tokens", "usage_estimated", "cost_usd", "input_price_per_1k",
           "output_price_per_1k", "cached_input_price_per_1k", "latency_ms", "time_to_first_token_ms",
           "status", "status_code", "error_message", "metadata")
# Statements hold 256, 128, ..., 2 or 1 rows (a batch of 300 is 256 + 32 + 8 + 4): a handful of
# distinct SQL texts, so the driver's prepared-statement cache stays small. One text per batch size
# filled sqlite3's cache (128 entries) with statements of up to 10,000 parameters each, and the
# process grew by about 10 % over a 10-minute soak. SQLite allows 32,766 bound values a statement;
# 256 rows of 25 stay far below.
STATEMENT_SIZES = (256, 128, 64, 32, 16, 8, 4, 2, 1)

Processor = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class _Processors:
    """The bind processors of the columns whose Python value is not what SQLite stores."""

    timestamp: Processor
    uuid: Processor
    boolean: Processor
    money: Processor
    json: Processor


@functools.cache
def _processors(dialect: Dialect) -> _Processors:
    def of(name: str) -> Processor:
        column_type = _LOGS.c[name].type
        return column_type.dialect_impl(dialect).bind_processor(dialect) or _identity

    return _Processors(timestamp=of("timestamp"), uuid=of("api_key_id"), boolean=of("usage_estimated"),
                       money=of("cost_usd"), json=of("metadata"))


def _row(record: UsageRecord, p: _Processors) -> tuple[Any, ...]:
    price = record.price
    uuid, money = p.uuid, p.money
    return (
        record.request_id, p.timestamp(record.timestamp), record.user_id, uuid(record.api_key_id),
        record.tier_code, record.model_id, record.provider, uuid(record.server_id),
        uuid(record.deployment_id), record.source, record.prompt_tokens, record.cached_prompt_tokens,
        record.completion_tokens, record.total_tokens, p.boolean(record.usage_estimated),
        money(record.cost_usd),
        money(price.input_per_1k) if price else None, money(price.output_per_1k) if price else None,
        money(price.cached_input_per_1k) if price else None,
        record.latency_ms, record.time_to_first_token_ms, record.status, record.status_code,
        record.error_message, p.json(record.metadata),
    )


@functools.cache
def _insert_sql(rows: int) -> str:
    one = "(" + ", ".join("?" * len(COLUMNS)) + ")"
    return f"INSERT INTO llm_usage_logs ({', '.join(COLUMNS)}) VALUES " + ", ".join([one] * rows)


@functools.cache
def _lookup_sql(ids: int) -> str:
    return f"SELECT request_id FROM llm_usage_logs WHERE request_id IN ({', '.join('?' * ids)})"


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    """`items` cut into pieces whose lengths are all in STATEMENT_SIZES, largest first."""
    pieces = []
    start = 0
    for size in STATEMENT_SIZES:
        while len(items) - start >= size:
            pieces.append(items[start:start + size])
            start += size
    return pieces


def insert_new(connection: Any, dialect: Dialect, unique: dict[str, UsageRecord]) -> list[str]:
    """Insert the records whose request id is not in the log yet; returns their ids.

    `connection` is the DB-API connection inside the caller's transaction (sqlite3's, or SQLAlchemy's
    adapter of aiosqlite's). Exactly-once holds as on the ORM path: the INSERT has no ON CONFLICT
    clause, so a row that appeared after the look-up fails the whole batch (retried later, when the
    look-up sees it) instead of being counted twice."""
    ids = list(unique)
    existing: set[str] = set()
    cursor = connection.cursor()
    try:
        for chunk in _chunks(ids):
            cursor.execute(_lookup_sql(len(chunk)), chunk)
            existing.update(row[0] for row in cursor.fetchall())
        new = [request_id for request_id in ids if request_id not in existing]
        processors = _processors(dialect)
        for chunk in _chunks(new):
            values: list[Any] = []
            for request_id in chunk:
                values.extend(_row(unique[request_id], processors))
            cursor.execute(_insert_sql(len(chunk)), values)
    finally:
        cursor.close()
    return new
