"""The usage writer: takes records off the hot path and writes them to the ledger in batches.

`submit()` is synchronous and does no network I/O: it appends one journal line (a local `write()`)
and queues the record. A background task writes up to `batch_size` rows every `interval` seconds in
ONE transaction: `INSERT ... ON CONFLICT (request_id) DO NOTHING RETURNING request_id`, then adds
only the rows actually inserted to `daily_cost_summary`, so a replayed or resubmitted record is
counted once in both. When the database is down, records stay queued (and journaled) and the task
retries with backoff; nothing is dropped. `aclose()` drains before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from unillm.db.engine import create_engine, create_session_factory, is_sqlite
from unillm.runtime import Runtime
from unillm.usage.journal import Journal
from unillm.usage.records import UsageRecord
from unillm.usage.rollup import write_batch
from unillm.usage.sqlite_sink import SqliteBatchSink

logger = logging.getLogger("unillm.usage.writer")

JOURNAL_DIR = "usage-journal"
WRITER_STATEMENT_CACHE = 8


@dataclass(slots=True)
class _Item:
    record: UsageRecord
    segment_id: int | None
    replayed: bool = False


class UsageWriter:
    """One per process (`runtime.components["usage"]`)."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], tz: ZoneInfo,
                 journal_dir: Path | None, batch_size: int = 500, interval: float = 0.2,
                 max_backoff: float = 5.0, fsync_interval: float = 1.0,
                 sqlite_sink: SqliteBatchSink | None = None) -> None:
        self._sessions = sessions
        # On SQLite, batches go through their own thread and connection (see sqlite_sink.py).
        self._sqlite_sink = sqlite_sink
        self._tz = tz
        self._journal = Journal.open(journal_dir) if journal_dir is not None else None
        self._queue: deque[_Item] = deque()
        # 27 parameters a row: 1,000 rows stay under PostgreSQL's and SQLite's 32,767-parameter limit.
        self._batch_size = max(1, min(batch_size, 1000))
        self._interval = interval
        self._max_backoff = max_backoff
        self._fsync_interval = fsync_interval
        self._last_fsync = time.monotonic()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.failures = 0  # consecutive failed batches (for health reporting and tests)
        self._replayed_pending = 0
        self._own_engine: AsyncEngine | None = None  # disposed on close (from_runtime on PostgreSQL)

    @classmethod
    def from_runtime(cls, runtime: Runtime, **options: float | int) -> UsageWriter:
        settings = runtime.settings
        if is_sqlite(runtime.engine):
            writer = cls(sessions=runtime.sessions, tz=ZoneInfo(settings.quota_timezone),
                         journal_dir=Path(settings.data_dir) / JOURNAL_DIR,
                         sqlite_sink=SqliteBatchSink(runtime.engine), **options)  # type: ignore[arg-type]
            return writer
        # Its own connection on PostgreSQL, with a small prepared-statement cache: the batch INSERT is
        # new SQL for every batch size, and in the shared pool's caches (100 statements on each of its
        # connections) those filled up to +55 % RSS over a 10-minute soak.
        engine = create_engine(settings.database_url, pool_size=1, max_overflow=0,
                               connect_args={"prepared_statement_cache_size": WRITER_STATEMENT_CACHE})
        writer = cls(sessions=create_session_factory(engine), tz=ZoneInfo(settings.quota_timezone),
                     journal_dir=Path(settings.data_dir) / JOURNAL_DIR, **options)  # type: ignore[arg-type]
        writer._own_engine = engine
        return writer

    @property
    def pending(self) -> int:
        """Records accepted but not yet committed."""
        return len(self._queue)

    @property
    def replaying(self) -> bool:
        """True while records replayed from a dead process's journal are not yet committed (quota
        counters kept in memory wait for them: see access/quota/ledger.py)."""
        return self._replayed_pending > 0

    def submit(self, record: UsageRecord) -> None:
        """Accept one record: journal it, queue it. Never blocks and never raises for database faults."""
        segment_id = None
        if self._journal is not None:
            try:
                segment_id = self._journal.append(record)
            except OSError as exc:  # a full or read-only disk: still keep the record in memory
                logger.error("usage journal: cannot append (%s); record %s is held in memory only",
                             exc, record.request_id)
        self._queue.append(_Item(record, segment_id))
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    def replay_journal(self) -> int:
        """Queue the records of segments left by a process that died; returns how many."""
        if self._journal is None:
            return 0
        count = 0
        for record, segment_id in self._journal.replay():
            self._queue.append(_Item(record, segment_id, replayed=True))
            count += 1
        self._replayed_pending += count
        if count:
            self._wake.set()  # write them at once: in-memory quota counters wait for them
            logger.info("usage journal: replaying %d record(s) left by an earlier process", count)
        return count

    def start_task(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="usage-writer")

    async def flush(self) -> None:
        """Write everything queued now; raises the database error if a batch fails (used by tests)."""
        while self._queue:
            await self._write_one_batch()

    async def aclose(self) -> None:
        """Stop the task and drain; if the database is still down, the journal keeps the rest."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        for attempt in range(3):
            try:
                await self.flush()
                break
            except Exception as exc:
                logger.warning("usage writer: drain attempt %d failed (%s); %d record(s) stay in the "
                               "journal for the next start", attempt + 1, type(exc).__name__, self.pending)
                await asyncio.sleep(0.2 * (attempt + 1))
        if self._journal is not None:
            if not self._queue:
                self._journal.rotate_if_idle()
            self._journal.close()
        if self._sqlite_sink is not None:
            self._sqlite_sink.close()
        if self._own_engine is not None:
            await self._own_engine.dispose()

    async def _run(self) -> None:
        backoff = self._interval
        while not self._closing:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass
            self._wake.clear()
            if self._closing:
                return
            try:
                while self._queue and not self._closing:
                    await self._write_one_batch()
                backoff = self._interval
                self.failures = 0
            except Exception as exc:
                self.failures += 1
                backoff = min(self._max_backoff, self._interval * (2 ** min(self.failures, 6)))
                logger.warning("usage writer: cannot write %d record(s) (%s: %s); retrying in %.1fs",
                               self.pending, type(exc).__name__, str(exc).splitlines()[0] if str(exc)
                               else "", backoff)
            self._maintain_journal()

    def _maintain_journal(self) -> None:
        if self._journal is None:
            return
        if not self._queue:
            self._journal.rotate_if_idle()
        now = time.monotonic()
        if now - self._last_fsync >= self._fsync_interval:
            self._journal.sync()
            self._last_fsync = now

    async def _write_one_batch(self) -> None:
        async with self._lock:
            if not self._queue:
                return
            items = [self._queue[i] for i in range(min(self._batch_size, len(self._queue)))]
            records = [item.record for item in items]
            if self._sqlite_sink is not None:
                await self._sqlite_sink.write(records, self._tz)
            else:
                async with self._sessions.begin() as session:
                    await write_batch(session=session, records=records, tz=self._tz)
            # Committed: only now leave the queue and release the journal lines.
            for item in items:
                self._queue.popleft()
                self._replayed_pending -= item.replayed
            if self._journal is not None:
                for item in items:
                    if item.segment_id is not None:
                        self._journal.ack(item.segment_id)


async def start(runtime: Runtime) -> None:
    """Start-up hook: replay what a dead process left in the journal, then start the batch task."""
    writer = UsageWriter.from_runtime(runtime)
    writer.replay_journal()
    runtime.components["usage"] = writer
    writer.start_task()
