"""The usage writer: batches in one transaction, counts a request once, survives a database outage."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests import backends
from tests.conftest import make_settings
from tests.usage.conftest import TINY, make_record
from unillm.db.engine import create_engine, create_session_factory
from unillm.runtime import Runtime
from unillm.usage.models import DailyCostSummary, UsageLog
from unillm.usage.sqlite_sink import SqliteBatchSink
from unillm.usage.writer import WRITER_STATEMENT_CACHE, UsageWriter


async def _counts(runtime: Runtime) -> tuple[int, int, Decimal, Decimal, int, int]:
    async with runtime.sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(UsageLog))
        rolled = await session.scalar(select(func.coalesce(func.sum(DailyCostSummary.total_requests), 0)))
        log_cost = await session.scalar(select(func.sum(UsageLog.cost_usd)))
        sum_cost = await session.scalar(select(func.sum(DailyCostSummary.total_cost_usd)))
        unpriced_logs = await session.scalar(
            select(func.count()).select_from(UsageLog).where(UsageLog.cost_usd.is_(None)))
        unpriced_rolled = await session.scalar(
            select(func.coalesce(func.sum(DailyCostSummary.unpriced_requests), 0)))
    return (int(rows or 0), int(rolled or 0), Decimal(log_cost or 0), Decimal(sum_cost or 0),
            int(unpriced_logs or 0), int(unpriced_rolled or 0))


async def test_submitted_records_are_written_and_rolled_up(runtime: Runtime, writer: UsageWriter) -> None:
    for i in range(120):
        writer.submit(make_record(cached=i % 3 * 10, status="error" if i % 40 == 0 else "success"))
    for _ in range(7):
        writer.submit(make_record(price=TINY, prompt=1000, completion=0))
    writer.submit(make_record(price=None, user_id=None, provider=None))
    await writer.flush()
    rows, rolled, log_cost, sum_cost, unpriced_logs, unpriced_rolled = await _counts(runtime)
    assert (rows, rolled) == (128, 128)
    expected = sum((make_record(cached=i % 3 * 10).cost_usd or Decimal(0) for i in range(120)), Decimal(0))
    assert log_cost == sum_cost == expected + Decimal("0.000004") * 7
    assert unpriced_logs == unpriced_rolled == 1
    async with runtime.sessions() as session:
        columns = ("prompt_tokens", "cached_prompt_tokens", "completion_tokens", "total_tokens")
        logged = (await session.execute(select(*(func.sum(getattr(UsageLog, c)) for c in columns)))).one()
        rolled_up = (await session.execute(
            select(*(func.sum(getattr(DailyCostSummary, "total_tokens" if c == "total_tokens" else c))
                     for c in columns)))).one()
    assert tuple(logged) == tuple(rolled_up)
    async with runtime.sessions() as session:
        tiny = select(UsageLog).where(UsageLog.input_price_per_1k == TINY.input_per_1k)
        row = (await session.scalars(tiny)).first()
    assert row is not None and row.cost_usd == Decimal("0.000004")


async def test_the_same_request_id_counts_once(runtime: Runtime, writer: UsageWriter) -> None:
    record = make_record(request_id="req-dup")
    writer.submit(record)
    writer.submit(make_record(request_id="req-dup"))  # same batch
    await writer.flush()
    writer.submit(record)  # a later batch
    await writer.flush()
    rows, rolled, log_cost, sum_cost, _, _ = await _counts(runtime)
    assert (rows, rolled) == (1, 1)
    assert log_cost == sum_cost == record.cost_usd


async def test_the_day_is_the_quota_day(runtime: Runtime) -> None:
    from datetime import UTC, date, datetime

    writer = UsageWriter(sessions=runtime.sessions, tz=ZoneInfo("America/New_York"), journal_dir=None)
    writer.submit(make_record(timestamp=datetime(2026, 11, 24, 3, 0, tzinfo=UTC)))
    await writer.flush()
    async with runtime.sessions() as session:
        day = await session.scalar(select(DailyCostSummary.date))
    assert day == date(2026, 11, 23)


class _Flaky:
    """A session factory that fails (a real connection error) until `down` is cleared."""

    def __init__(self, real: async_sessionmaker[AsyncSession],
                 broken: async_sessionmaker[AsyncSession]) -> None:
        self.real, self.broken, self.down = real, broken, True

    def begin(self) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
        return (self.broken if self.down else self.real).begin()


@contextlib.asynccontextmanager
async def _unreachable(backend: str, tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    else:
        from tests import backends

        url = backends.pg_url("unillm_test_does_not_exist")
    engine = create_engine(url)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def test_records_are_held_while_the_database_is_down(runtime: Runtime, backend: str,
                                                           tmp_path: Path) -> None:
    async with _unreachable(backend, tmp_path) as broken:
        flaky = _Flaky(runtime.sessions, broken)
        sessions: Any = flaky
        writer = UsageWriter(sessions=sessions, tz=ZoneInfo("UTC"), journal_dir=tmp_path / "journal",
                             interval=0.01, max_backoff=0.02)
        writer.start_task()
        for _ in range(30):
            writer.submit(make_record())
        while writer.failures < 2:  # the task has tried and failed twice
            import asyncio

            await asyncio.sleep(0.01)
        assert writer.pending == 30
        flaky.down = False
        await writer.aclose()
    rows, rolled, *_ = await _counts(runtime)
    assert (rows, rolled) == (30, 30)
    assert list((tmp_path / "journal").glob("*.jsonl")) == []


async def test_a_failing_journal_still_keeps_the_record(runtime: Runtime, tmp_path: Path) -> None:
    writer = UsageWriter(sessions=runtime.sessions, tz=ZoneInfo("UTC"), journal_dir=tmp_path / "journal")
    (tmp_path / "journal").chmod(0o500)
    try:
        if os.access(tmp_path / "journal", os.W_OK):  # running as root: permissions are not enforced
            assert writer._journal is not None
            writer._journal.directory = tmp_path / "journal" / "gone"
        writer.submit(make_record(request_id="no-journal"))
        assert writer.pending == 1
        await writer.flush()
    finally:
        (tmp_path / "journal").chmod(0o700)
        await writer.aclose()
    rows, rolled, *_ = await _counts(runtime)
    assert (rows, rolled) == (1, 1)


async def test_sqlite_batches_run_on_their_own_thread_and_wait_out_an_unreadable_file(
        templates: backends.Templates, tmp_path: Path) -> None:
    """SQLite's batches go through `SqliteBatchSink` (one thread, one plain connection): they too are
    held while the file cannot be opened, and written, exactly once, when it can."""
    ready = tmp_path / "ready.db"
    templates.sqlite_copy(ready)
    target = tmp_path / "unillm.db"
    target.mkdir()  # a directory where the database file should be: sqlite3 cannot open it
    engine = create_engine(f"sqlite:///{target}")
    sink = SqliteBatchSink(engine)
    writer = UsageWriter(sessions=create_session_factory(engine), tz=ZoneInfo("UTC"),
                         journal_dir=tmp_path / "journal", interval=0.01, max_backoff=0.02, sqlite_sink=sink)
    try:
        writer.start_task()
        records = [make_record() for _ in range(30)]
        for record in records:
            writer.submit(record)
        while writer.failures < 2:
            await asyncio.sleep(0.01)
        assert writer.pending == 30
        target.rmdir()
        shutil.copyfile(ready, target)
        for record in records[:5]:  # resubmitted ids are still counted once
            writer.submit(record)
        await writer.aclose()
    finally:
        await engine.dispose()
    runtime = Runtime.create(make_settings(f"sqlite:///{target}", tmp_path / "data"))
    try:
        rows, rolled, log_cost, sum_cost, *_ = await _counts(runtime)
    finally:
        await runtime.close()
    assert (rows, rolled) == (30, 30)
    assert log_cost == sum_cost == sum(record.cost_usd or 0 for record in records)
    assert list((tmp_path / "journal").glob("*.jsonl")) == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # asyncpg's statement cache
async def test_the_postgresql_writer_keeps_its_statement_cache_small(runtime: Runtime) -> None:
    """Each batch size is new INSERT ... RETURNING SQL; in the shared pool's caches those grew the
    process by +55 % in a 10-minute soak. The writer's own connection keeps only a few."""
    writer = UsageWriter.from_runtime(runtime)
    try:
        for size in range(1, 25):
            for _ in range(size):
                writer.submit(make_record())
            await writer.flush()
        engine = writer._own_engine
        assert engine is not None and engine is not runtime.engine
        async with engine.connect() as connection:
            raw: Any = await connection.get_raw_connection()
            cached = len(raw.dbapi_connection._prepared_statement_cache)
        # SQLAlchemy's LRU cache may overshoot by half before it prunes; 24 batch sizes were written.
        assert 0 < cached <= WRITER_STATEMENT_CACHE * 1.5 < 24
    finally:
        await writer.aclose()
    rows, rolled, *_ = await _counts(runtime)
    assert rows == rolled == sum(range(1, 25))
