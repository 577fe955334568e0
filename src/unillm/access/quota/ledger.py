"""Quota counters kept in memory by the one process serving a SQLite database, persisted by the
usage ledger.

Why: on SQLite every `DatabaseCounter.reserve` is a write transaction on the request path, and SQLite
serialises writers; it cost more than half of the gateway's time per request. When exactly one
process serves the database (`unillm serve` with one worker, the embedded default), that process's
memory can be the authority instead, and stays exact: an event loop runs each reserve without
awaiting between the check and the increment.

How the count survives a restart or a crash:
- A key (user, rule, day) is loaded from `quota_counters` on its first use in this process.
- Each admitted request's usage record carries its unit (`UsageRecord.quota_unit`, unless the unit was
  given back), and the usage writer adds the units of the rows it actually inserts to
  `quota_counters` in the same transaction. A row is inserted once (request id unique), so a unit is
  persisted exactly once, also when the journal is replayed after `kill -9`.
- After a crash, keys are not loaded until the replayed journal is written, so a restarted process
  counts what the dead one admitted.
- Requests in flight when the process died sent no answer and are not counted: the client got an
  error, not a response.

Two processes counting in memory on one database would each admit up to the limit, so this counter
takes an exclusive lock on `<database file>.quota-lock` and refuses to start when another process
holds it (several workers must use UNILLM_COUNTER_BACKEND=database or Redis, which `serve` does).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from unillm.access.models import QuotaCounter as QuotaCounterRow
from unillm.access.quota.database import database_unavailable
from unillm.access.quota.memory import MemoryCounter
from unillm.db.engine import is_sqlite
from unillm.errors import ConfigError, CounterStoreUnavailable

try:  # pragma: no cover - Windows has no fcntl: no cross-process guard there
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = ".quota-lock"


def _lock_database_file(engine: AsyncEngine) -> int | None:
    """Hold `<database file>.quota-lock` for the life of the counter; None when the database is not a
    SQLite file (a server database cannot be guarded by a local lock)."""
    database = engine.url.database
    if not is_sqlite(engine) or not database or database == ":memory:" or fcntl is None:
        return None
    path = Path(database).expanduser().with_name(Path(database).name + LOCK_SUFFIX)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ConfigError(
            f"another unillm process is already serving {database} with in-memory quota counters; "
            "serve it from one process (`unillm serve --workers N` shares counters correctly), or set "
            "UNILLM_COUNTER_BACKEND=database (or UNILLM_REDIS_URL) for every process") from None
    return fd


class LedgerCounter(MemoryCounter):
    """Exact in one process; `persists_through_ledger` tells metering to put the unit on the record."""

    persists_through_ledger = True

    def __init__(self, engine: AsyncEngine, *, catching_up: Callable[[], bool] = lambda: False) -> None:
        super().__init__()
        self._engine = engine
        self._catching_up = catching_up
        self._lock_fd = _lock_database_file(engine)
        self._load_statement = select(QuotaCounterRow.count).where(
            QuotaCounterRow.user_id == bindparam("user_id"),
            QuotaCounterRow.rule_key == bindparam("rule_key"),
            QuotaCounterRow.day == bindparam("day"))

    async def _ensure_loaded(self, user_id: str, rule_key: str, day: date) -> None:
        key = (day, rule_key, user_id)
        if key in self._counts:
            return
        if self._catching_up():
            raise CounterStoreUnavailable(
                "the quota counters are catching up with usage a stopped process left in its journal; "
                "retry in a moment")
        try:
            async with self._engine.connect() as connection:
                stored = (await connection.execute(
                    self._load_statement, {"user_id": user_id, "rule_key": rule_key, "day": day}
                )).scalar_one_or_none()
        except (SQLAlchemyError, OSError) as exc:
            raise database_unavailable(self._engine, exc) from exc
        # Another request may have loaded (and counted) the key while this one awaited: keep its count.
        self._counts.setdefault(key, int(stored or 0))

    async def reserve(self, *, user_id: str, rule_key: str, day: date, limit: int) -> int | None:
        if limit <= 0:
            return None
        await self._ensure_loaded(user_id, rule_key, day)
        return await super().reserve(user_id=user_id, rule_key=rule_key, day=day, limit=limit)

    async def release(self, *, user_id: str, rule_key: str, day: date) -> None:
        key = (day, rule_key, user_id)
        used = self._counts.get(key)
        if used:  # kept at zero, not dropped: dropping would reload a count the ledger may still owe
            self._counts[key] = used - 1

    async def used(self, *, user_id: str, rule_key: str, day: date) -> int:
        await self._ensure_loaded(user_id, rule_key, day)
        return await super().used(user_id=user_id, rule_key=rule_key, day=day)

    async def aclose(self) -> None:
        await super().aclose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the lock
            self._lock_fd = None
