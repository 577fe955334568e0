"""The in-memory counter persisted by the usage ledger (the one-process SQLite default): the same
promises as every store, plus persistence exactly once through the ledger, the cross-process guard,
and waiting for a replayed journal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.access.test_quota_counters import SCENARIOS
from tests.conftest import make_settings
from unillm.access.models import QuotaCounter as QuotaCounterRow
from unillm.access.quota import create_counter
from unillm.access.quota.database import DatabaseCounter
from unillm.access.quota.ledger import LedgerCounter
from unillm.db.engine import create_engine
from unillm.errors import ConfigError, CounterStoreUnavailable
from unillm.runtime import Runtime
from unillm.usage.records import QuotaUnit, UsageRecord
from unillm.usage.rollup import write_batch

DAY = date(2026, 3, 1)
UTC_ZONE = ZoneInfo("UTC")


@pytest.fixture
async def ledger_counter(runtime: Runtime) -> AsyncIterator[LedgerCounter]:
    """On SQLite and on PostgreSQL: the counter works on either; the ledger upsert must too."""
    counter = LedgerCounter(runtime.engine)
    yield counter
    await counter.aclose()


def _record(user_id: str, unit: QuotaUnit | None, request_id: str | None = None) -> UsageRecord:
    return UsageRecord(
        request_id=request_id or uuid.uuid4().hex,
        timestamp=datetime(2026, 3, 1, 12, tzinfo=UTC),
        model_id="openai/gpt-4o",
        user_id=user_id,
        provider="openai",
        quota_unit=unit,
    )


async def _write(runtime: Runtime, records: list[UsageRecord]) -> int:
    async with runtime.sessions.begin() as session:
        return await write_batch(session=session, records=records, tz=UTC_ZONE)


async def _stored(runtime: Runtime, user_id: str, rule_key: str = "r") -> int | None:
    async with runtime.sessions() as session:
        return (
            await session.execute(
                select(QuotaCounterRow.count).where(
                    QuotaCounterRow.user_id == user_id,
                    QuotaCounterRow.rule_key == rule_key,
                    QuotaCounterRow.day == DAY,
                )
            )
        ).scalar_one_or_none()


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_ledger_counter_keeps_every_store_promise(
    ledger_counter: LedgerCounter, scenario: object
) -> None:
    await scenario(ledger_counter)  # type: ignore[operator]


async def test_units_are_persisted_once_by_the_ledger_and_loaded_by_the_next_process(
    runtime: Runtime,
) -> None:
    counter = LedgerCounter(runtime.engine)
    unit = QuotaUnit(rule_key="r", day=DAY)
    for _ in range(3):
        assert await counter.reserve(user_id="alice", rule_key="r", day=DAY, limit=5) is not None
    # Nothing is written per request: the database learns of the units with their usage rows.
    assert await _stored(runtime, "alice") is None
    records = [_record("alice", unit) for _ in range(3)]
    assert await _write(runtime, records) == 3
    assert await _stored(runtime, "alice") == 3
    # A replay of the same rows (a journal after a crash) inserts nothing and counts nothing again.
    assert await _write(runtime, records) == 0
    assert await _stored(runtime, "alice") == 3
    # A row without a unit (the unit was given back, or another counter store counted it) adds nothing.
    assert await _write(runtime, [_record("alice", None)]) == 1
    assert await _stored(runtime, "alice") == 3
    await counter.aclose()

    restarted = LedgerCounter(runtime.engine)
    try:
        assert await restarted.used(user_id="alice", rule_key="r", day=DAY) == 3
        assert await restarted.reserve(user_id="alice", rule_key="r", day=DAY, limit=5) == 1
        assert await restarted.reserve(user_id="alice", rule_key="r", day=DAY, limit=5) == 0
        assert await restarted.reserve(user_id="alice", rule_key="r", day=DAY, limit=5) is None
    finally:
        await restarted.aclose()


async def test_units_of_one_batch_add_up_per_user_rule_and_day(runtime: Runtime) -> None:
    other_day = date(2026, 3, 2)
    await _write(
        runtime,
        [
            _record("bob", QuotaUnit("r", DAY)),
            _record("bob", QuotaUnit("r", DAY)),
            _record("bob", QuotaUnit("other", DAY)),
            _record("carol", QuotaUnit("r", DAY)),
            _record("bob", QuotaUnit("r", other_day)),
        ],
    )
    await _write(runtime, [_record("bob", QuotaUnit("r", DAY))])
    assert await _stored(runtime, "bob") == 3
    assert await _stored(runtime, "bob", "other") == 1
    assert await _stored(runtime, "carol") == 1


async def test_a_released_unit_is_kept_at_zero_not_reloaded(
    ledger_counter: LedgerCounter, runtime: Runtime
) -> None:
    # The database still says 2 for this key (say, rows of a previous process) ...
    await _write(runtime, [_record("dan", QuotaUnit("r", DAY)), _record("dan", QuotaUnit("r", DAY))])
    assert await ledger_counter.reserve(user_id="dan", rule_key="r", day=DAY, limit=3) == 0
    await ledger_counter.release(user_id="dan", rule_key="r", day=DAY)
    assert await ledger_counter.used(user_id="dan", rule_key="r", day=DAY) == 2
    assert await ledger_counter.reserve(user_id="dan", rule_key="r", day=DAY, limit=3) == 0


async def test_a_second_process_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'one.db'}")
    try:
        first = LedgerCounter(engine)
        with pytest.raises(ConfigError, match="UNILLM_COUNTER_BACKEND=database"):
            LedgerCounter(engine)
        await first.aclose()
        second = LedgerCounter(engine)  # the lock went with the first counter
        await second.aclose()
    finally:
        await engine.dispose()


async def test_keys_wait_for_a_replayed_journal(runtime: Runtime) -> None:
    catching_up = True
    counter = LedgerCounter(runtime.engine, catching_up=lambda: catching_up)
    try:
        with pytest.raises(CounterStoreUnavailable, match="catching up"):
            await counter.reserve(user_id="erin", rule_key="r", day=DAY, limit=5)
        catching_up = False
        assert await counter.reserve(user_id="erin", rule_key="r", day=DAY, limit=5) == 4
        catching_up = True  # a key already loaded needs nothing from the database
        assert await counter.reserve(user_id="erin", rule_key="r", day=DAY, limit=5) == 3
    finally:
        await counter.aclose()


async def test_an_unreachable_database_is_a_counter_store_fault() -> None:
    engine = create_engine("postgresql://unillm:s3cret-pw@127.0.0.1:1/nowhere")
    counter = LedgerCounter(engine)
    try:
        with pytest.raises(CounterStoreUnavailable, match="quota counter store") as caught:
            await counter.reserve(user_id="a", rule_key="r", day=DAY, limit=1)
        assert "s3cret-pw" not in caught.value.message
    finally:
        await counter.aclose()
        await engine.dispose()


async def test_the_factory_uses_it_only_for_one_serving_process_on_sqlite(
    tmp_path: Path, redis_url: str
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = create_engine(url)
    try:

        async def kind(serving: bool, **overrides: object) -> type:
            counter = create_counter(make_settings(url, tmp_path, **overrides), engine, serving=serving)
            await counter.aclose()
            return type(counter)

        assert await kind(True) is LedgerCounter
        assert await kind(False) is DatabaseCounter  # a CLI command reading a count
        assert await kind(True, workers=2) is DatabaseCounter
        assert await kind(True, counter_backend="database") is DatabaseCounter
        assert await kind(True, redis_url=redis_url) is not LedgerCounter
    finally:
        await engine.dispose()
    pg = create_engine("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        counter = create_counter(
            make_settings("postgresql://postgres@127.0.0.1:5432/postgres", tmp_path), pg, serving=True
        )
        assert isinstance(counter, DatabaseCounter)
    finally:
        await pg.dispose()
