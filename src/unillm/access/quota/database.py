"""Quota counters in the `quota_counters` table: shared by every process using the same database.

`reserve` is one statement, atomic on both SQLite (>= 3.35) and PostgreSQL:

    INSERT ... VALUES (..., count = 1) ON CONFLICT (user_id, rule_key, day)
    DO UPDATE SET count = count + 1 WHERE count < :limit RETURNING count

When the row is at the limit the conditional update touches nothing and returns no row. Each call
is its own short transaction on the engine (never the caller's session), so a request's counter
never waits on other work and a failed request cannot roll the count back by accident.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from unillm.access.models import QuotaCounter as QuotaCounterRow
from unillm.db.engine import describe_url
from unillm.db.types import utcnow
from unillm.errors import CounterStoreUnavailable


def database_unavailable(engine: AsyncEngine, exc: BaseException) -> CounterStoreUnavailable:
    """The error for a database counter fault: names the database (never its password) and the cause."""
    original = getattr(exc, "orig", None) or exc
    reason = (str(original).strip().splitlines() or [type(original).__name__])[0]
    return CounterStoreUnavailable(
        f"the quota counter store (database {describe_url(engine.url)}) is unavailable: {reason}")


class DatabaseCounter:
    persists_through_ledger = False

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert: Any = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # Built once with bind parameters: the per-request cost is then one cached execution.
        self._reserve = self._reserve_statement()

    def _unavailable(self, exc: BaseException) -> CounterStoreUnavailable:
        return database_unavailable(self._engine, exc)

    @staticmethod
    def _key(user_id: str, rule_key: str, day: date) -> Any:
        return ((QuotaCounterRow.user_id == user_id) & (QuotaCounterRow.rule_key == rule_key)
                & (QuotaCounterRow.day == day))

    def _reserve_statement(self) -> Any:
        return (
            self._insert(QuotaCounterRow)
            .values(user_id=bindparam("user_id"), rule_key=bindparam("rule_key"), day=bindparam("day"),
                    count=1, updated_at=bindparam("now"))
            .on_conflict_do_update(
                index_elements=[QuotaCounterRow.user_id, QuotaCounterRow.rule_key, QuotaCounterRow.day],
                set_={"count": QuotaCounterRow.count + 1, "updated_at": bindparam("now")},
                where=QuotaCounterRow.count < bindparam("limit"),
            )
            .returning(QuotaCounterRow.count)
        )

    async def reserve(self, *, user_id: str, rule_key: str, day: date, limit: int) -> int | None:
        if limit <= 0:
            return None
        parameters = {"user_id": user_id, "rule_key": rule_key, "day": day, "now": utcnow(), "limit": limit}
        try:
            async with self._engine.begin() as connection:
                count = (await connection.execute(self._reserve, parameters)).scalar_one_or_none()
        except (SQLAlchemyError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return None if count is None else limit - count

    async def release(self, *, user_id: str, rule_key: str, day: date) -> None:
        statement = (
            update(QuotaCounterRow)
            .where(self._key(user_id, rule_key, day), QuotaCounterRow.count > 0)
            .values(count=QuotaCounterRow.count - 1, updated_at=utcnow())
        )
        try:
            async with self._engine.begin() as connection:
                await connection.execute(statement)
        except (SQLAlchemyError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def used(self, *, user_id: str, rule_key: str, day: date) -> int:
        statement = select(QuotaCounterRow.count).where(self._key(user_id, rule_key, day))
        try:
            async with self._engine.connect() as connection:
                count = (await connection.execute(statement)).scalar_one_or_none()
        except (SQLAlchemyError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return int(count or 0)

    async def aclose(self) -> None:
        """Nothing to close: the engine belongs to the runtime."""
