"""The SQLite ledger INSERT below SQLAlchemy's statement layer writes exactly what the ORM writes."""

from __future__ import annotations

import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.orm import Session

from tests import backends
from tests.usage.conftest import GPT4O, TINY, make_record

# server_id and deployment_id take their UUID type from the tables they refer to
from unillm.deployment import models as _deployment_models  # noqa: F401
from unillm.server import models as _server_models  # noqa: F401
from unillm.usage import sqlite_rows
from unillm.usage.models import UsageLog
from unillm.usage.pricing import Price
from unillm.usage.records import UsageRecord
from unillm.usage.rollup import write_batch_sync

SQLITE = sa_create_engine("sqlite://").dialect


def _varied_records() -> list[UsageRecord]:
    """Every column filled, and every nullable one also empty, across the batch."""
    records = []
    for i in range(1000):
        records.append(make_record(
            price=(GPT4O, TINY, None, Price(input_per_1k=Decimal("0.1"), output_per_1k=Decimal("0.2"),
                                            cached_input_per_1k=None))[i % 4],
            cached=i % 7, api_key_id=uuid.uuid4() if i % 2 else None,
            server_id=uuid.uuid4() if i % 3 == 0 else None,
            deployment_id=uuid.uuid4() if i % 5 == 0 else None,
            usage_estimated=i % 2 == 0, status=("success", "error", "cancelled")[i % 3],
            status_code=(200, 502, None)[i % 3], error_message="upstream said “no” ✗" if i % 3 == 1 else None,
            metadata={"stream": True, "tags": ["a", "é"]} if i % 4 == 0 else {},
            latency_ms=None if i % 9 == 0 else i, time_to_first_token_ms=None if i % 2 else i // 2,
            user_id=None if i % 11 == 0 else f"user-{i % 13}", tier_code=None if i % 6 == 0 else "pro",
            provider=None if i % 10 == 0 else "openai", source=None if i % 8 == 0 else "api"))
    return records


def _stored_rows(path: Path) -> list[tuple[Any, ...]]:
    """The raw values SQLite holds, bypassing every type conversion."""
    connection = sqlite3.connect(path)
    try:
        columns = ", ".join(sqlite_rows.COLUMNS)
        return connection.execute(f"SELECT {columns} FROM llm_usage_logs ORDER BY request_id").fetchall()
    finally:
        connection.close()


def test_columns_name_every_column_but_the_id_in_table_order() -> None:
    table_columns = tuple(column.name for column in UsageLog.__table__.columns if column.name != "id")
    assert sqlite_rows.COLUMNS == table_columns


def test_rows_are_byte_for_byte_what_the_orm_writes(templates: backends.Templates, tmp_path: Path) -> None:
    records = _varied_records()
    ours, orms = tmp_path / "ours.db", tmp_path / "orm.db"
    templates.sqlite_copy(ours)
    templates.sqlite_copy(orms)
    tz = ZoneInfo("UTC")
    for path in (ours, orms):
        engine = sa_create_engine(f"sqlite+pysqlite:///{path}")
        try:
            with Session(engine) as session, session.begin():
                if path == ours:  # in two batches, so more than one statement and a look-up that finds rows
                    assert write_batch_sync(session, records=records[:700], tz=tz) == 700
                    assert write_batch_sync(session, records=records, tz=tz) == 300
                else:
                    session.execute(UsageLog.__table__.insert(), [record.to_row() for record in records])
        finally:
            engine.dispose()
    stored = _stored_rows(ours)
    assert len(stored) == 1000
    assert stored == _stored_rows(orms)
    # and what the ORM reads back is the record again (money exact, time aware)
    engine = sa_create_engine(f"sqlite+pysqlite:///{ours}")
    try:
        with Session(engine) as session:
            by_id = {row.request_id: row for row in session.query(UsageLog)}
    finally:
        engine.dispose()
    for record in records:
        row = by_id[record.request_id]
        assert row.cost_usd == record.cost_usd
        assert row.input_price_per_1k == (record.price.input_per_1k if record.price else None)
        assert row.timestamp == record.timestamp
        assert row.api_key_id == record.api_key_id
        assert row.metadata_ == record.metadata
        assert row.usage_estimated is record.usage_estimated


def test_a_duplicate_that_appears_after_the_look_up_fails_the_whole_batch(
        templates: backends.Templates, tmp_path: Path) -> None:
    path = tmp_path / "unillm.db"
    templates.sqlite_copy(path)
    records = [make_record() for _ in range(5)]
    processors = sqlite_rows._processors(SQLITE)
    connection = sqlite3.connect(path)
    try:
        connection.execute(sqlite_rows._insert_sql(1), sqlite_rows._row(records[2], processors))
        connection.commit()
        # the look-up sees the existing row: only the others go in
        inserted = sqlite_rows.insert_new(connection, SQLITE, {r.request_id: r for r in records})
        assert sorted(inserted) == sorted(r.request_id for i, r in enumerate(records) if i != 2)
        connection.rollback()
        # a row the look-up did not see makes the INSERT fail as a whole: nothing is half-written
        pair = [*sqlite_rows._row(records[0], processors), *sqlite_rows._row(records[2], processors)]
        with pytest.raises(sqlite3.IntegrityError):
            connection.execute(sqlite_rows._insert_sql(2), pair)
        assert connection.execute("SELECT count(*) FROM llm_usage_logs").fetchone() == (1,)
    finally:
        connection.close()


def test_batches_of_every_size_use_a_handful_of_statement_texts() -> None:
    """One SQL text per batch size filled the driver's statement cache with huge statements."""
    for size in range(0, 1200):
        items = list(range(size))
        pieces = sqlite_rows._chunks(items)
        assert [item for piece in pieces for item in piece] == items
        assert all(len(piece) in sqlite_rows.STATEMENT_SIZES for piece in pieces)
        assert len(pieces) <= size // 256 + len(sqlite_rows.STATEMENT_SIZES)
    assert max(sqlite_rows.STATEMENT_SIZES) * len(sqlite_rows.COLUMNS) < 32766  # SQLite's limit
