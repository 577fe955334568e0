"""Where the usage writer's batches go on SQLite: whole, on one thread, over a plain sqlite3
connection.

Why: through aiosqlite every statement is several hops between the event loop and the driver's
thread (cursor, execute, fetch, commit), and under load each hop waits for a busy loop to come round:
a 500-row batch took 300 to 500 ms, fewer rows were written than requests arrived, and the queue
(and the process's memory) grew for as long as the load lasted. Here a batch is one hop; the thread
takes the GIL in the interpreter's usual slices, so the loop is never blocked for the whole batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from unillm.db.engine import create_sync_sqlite_engine
from unillm.usage.records import UsageRecord
from unillm.usage.rollup import write_batch_sync


class SqliteBatchSink:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = create_sync_sqlite_engine(engine)
        # One thread: the one connection is only ever used from it, and batches stay in order.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage-sqlite")

    async def write(self, records: Sequence[UsageRecord], tz: ZoneInfo) -> int:
        """Write one batch in one transaction; raises what the database raised (nothing committed)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._write, records, tz)

    def _write(self, records: Sequence[UsageRecord], tz: ZoneInfo) -> int:
        with Session(self._engine) as session, session.begin():
            return write_batch_sync(session, records=records, tz=tz)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._engine.dispose()
