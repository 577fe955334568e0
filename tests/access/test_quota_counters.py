"""Every counter store keeps the same promise: concurrent reserves never admit more than the limit,
release gives a unit back, and each quota day counts on its own."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import make_settings
from unillm.access.quota import create_counter, start
from unillm.access.quota.base import COUNTER_TTL_SECONDS, QuotaCounter
from unillm.access.quota.database import DatabaseCounter
from unillm.access.quota.days import quota_day
from unillm.access.quota.ledger import LedgerCounter
from unillm.access.quota.memory import MemoryCounter
from unillm.access.quota.redis import RedisCounter
from unillm.db.engine import create_engine
from unillm.errors import ConfigError, CounterStoreUnavailable
from unillm.runtime import Runtime

DAY = date(2026, 3, 1)
NEW_YORK = ZoneInfo("America/New_York")


async def fifty_against_ten(counter: QuotaCounter) -> None:
    for _ in range(5):
        assert await counter.reserve(user_id="alice", rule_key="rule-1", day=DAY, limit=15) is not None
    results = await asyncio.gather(*(counter.reserve(user_id="alice", rule_key="rule-1", day=DAY, limit=15)
                                     for _ in range(50)))
    admitted = sorted(r for r in results if r is not None)
    assert admitted == list(range(10))
    assert await counter.used(user_id="alice", rule_key="rule-1", day=DAY) == 15
    assert await counter.reserve(user_id="alice", rule_key="rule-1", day=DAY, limit=15) is None
    assert await counter.used(user_id="alice", rule_key="rule-1", day=DAY) == 15


async def release_gives_back(counter: QuotaCounter) -> None:
    assert await counter.reserve(user_id="bob", rule_key="r", day=DAY, limit=2) == 1
    assert await counter.reserve(user_id="bob", rule_key="r", day=DAY, limit=2) == 0
    assert await counter.reserve(user_id="bob", rule_key="r", day=DAY, limit=2) is None
    await counter.release(user_id="bob", rule_key="r", day=DAY)
    assert await counter.used(user_id="bob", rule_key="r", day=DAY) == 1
    assert await counter.reserve(user_id="bob", rule_key="r", day=DAY, limit=2) == 0
    for _ in range(4):
        await counter.release(user_id="bob", rule_key="r", day=DAY)
    assert await counter.used(user_id="bob", rule_key="r", day=DAY) == 0
    await counter.release(user_id="nobody", rule_key="r", day=DAY)
    assert await counter.used(user_id="nobody", rule_key="r", day=DAY) == 0
    # Counters are per user, per rule and per day.
    assert await counter.reserve(user_id="bob", rule_key="other", day=DAY, limit=1) == 0
    assert await counter.reserve(user_id="carol", rule_key="r", day=DAY, limit=1) == 0
    # A limit of zero admits nothing and counts nothing.
    assert await counter.reserve(user_id="dave", rule_key="r", day=DAY, limit=0) is None
    assert await counter.used(user_id="dave", rule_key="r", day=DAY) == 0


async def days_turn_over_at_local_midnight(counter: QuotaCounter) -> None:
    moments = [
        # (before local midnight, just after), the second across the spring-forward and fall-back days
        (datetime(2026, 3, 7, 23, 59, 30, tzinfo=NEW_YORK), datetime(2026, 3, 8, 0, 0, 10, tzinfo=NEW_YORK)),
        (datetime(2026, 3, 8, 23, 59, 59, tzinfo=NEW_YORK), datetime(2026, 3, 9, 0, 0, 0, tzinfo=NEW_YORK)),
        (datetime(2026, 11, 1, 23, 59, 0, tzinfo=NEW_YORK), datetime(2026, 11, 2, 0, 0, 1, tzinfo=NEW_YORK)),
    ]
    for index, (before, after) in enumerate(moments):
        user = f"eve-{index}"
        first = quota_day(before.astimezone(UTC), NEW_YORK)
        second = quota_day(after.astimezone(UTC), NEW_YORK)
        assert second != first and before.astimezone(UTC).date() == after.astimezone(UTC).date()
        assert await counter.reserve(user_id=user, rule_key="r", day=first, limit=1) == 0
        assert await counter.reserve(user_id=user, rule_key="r", day=first, limit=1) is None
        assert await counter.reserve(user_id=user, rule_key="r", day=second, limit=1) == 0
        assert await counter.reserve(user_id=user, rule_key="r", day=second, limit=1) is None


SCENARIOS = [fifty_against_ten, release_gives_back, days_turn_over_at_local_midnight]


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_memory(memory_counter: MemoryCounter, scenario: object) -> None:
    await scenario(memory_counter)  # type: ignore[operator]


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_database(database_counter: DatabaseCounter, scenario: object) -> None:
    await scenario(database_counter)  # type: ignore[operator]


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_redis(redis_counter: RedisCounter, scenario: object) -> None:
    await scenario(redis_counter)  # type: ignore[operator]


async def test_redis_key_layout_and_expiry(redis_counter: RedisCounter, redis_url: str,
                                           redis_key_prefix: str) -> None:
    import redis.asyncio as aioredis

    await redis_counter.reserve(user_id="alice", rule_key="rule-1", day=DAY, limit=3)
    key = f"{redis_key_prefix}quota:2026-03-01:rule-1:alice"
    assert redis_counter.key(user_id="alice", rule_key="rule-1", day=DAY) == key
    client: Any = aioredis.Redis.from_url(redis_url)
    try:
        assert int(await client.get(key)) == 1
        ttl = await client.ttl(key)
        assert COUNTER_TTL_SECONDS - 60 < ttl <= COUNTER_TTL_SECONDS
    finally:
        await client.aclose()


async def test_memory_counter_forgets_old_days(memory_counter: MemoryCounter) -> None:
    await memory_counter.reserve(user_id="a", rule_key="r", day=date(2026, 1, 1), limit=5)
    await memory_counter.reserve(user_id="a", rule_key="r", day=date(2026, 1, 10), limit=5)
    assert await memory_counter.used(user_id="a", rule_key="r", day=date(2026, 1, 1)) == 0
    assert await memory_counter.used(user_id="a", rule_key="r", day=date(2026, 1, 10)) == 1


async def test_unreachable_database_raises_counter_store_unavailable() -> None:
    engine = create_engine("postgresql://unillm:s3cret-pw@127.0.0.1:1/nowhere")
    counter = DatabaseCounter(engine)
    try:
        for call in (counter.reserve(user_id="a", rule_key="r", day=DAY, limit=1),
                     counter.release(user_id="a", rule_key="r", day=DAY),
                     counter.used(user_id="a", rule_key="r", day=DAY)):
            with pytest.raises(CounterStoreUnavailable, match="quota counter store") as caught:
                await call
            assert "s3cret-pw" not in caught.value.message
            assert caught.value.status_code == 503
    finally:
        await engine.dispose()


async def test_unreachable_redis_raises_counter_store_unavailable() -> None:
    counter = RedisCounter("redis://:s3cret-pw@127.0.0.1:1/0", key_prefix="x:")
    try:
        for call in (counter.reserve(user_id="a", rule_key="r", day=DAY, limit=1),
                     counter.release(user_id="a", rule_key="r", day=DAY),
                     counter.used(user_id="a", rule_key="r", day=DAY)):
            with pytest.raises(CounterStoreUnavailable, match=r"Redis at 127\.0\.0\.1:1/0") as caught:
                await call
            assert "s3cret-pw" not in caught.value.message
    finally:
        await counter.aclose()


async def test_factory_chooses_by_setting(tmp_path: Path, redis_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = create_engine(url)
    try:
        def made(**overrides: object) -> QuotaCounter:
            return create_counter(make_settings(url, tmp_path, **overrides), engine)

        assert isinstance(made(), DatabaseCounter)
        assert isinstance(made(counter_backend="memory"), MemoryCounter)
        assert isinstance(made(counter_backend="database", redis_url=redis_url), DatabaseCounter)
        for counter in (made(redis_url=redis_url), made(counter_backend="redis", redis_url=redis_url)):
            assert isinstance(counter, RedisCounter)
            await counter.aclose()
        with pytest.raises(ConfigError, match="UNILLM_REDIS_URL"):
            made(counter_backend="redis")
    finally:
        await engine.dispose()


async def test_start_hook_registers_the_counter(runtime: Runtime) -> None:
    await start(runtime)
    counter = runtime.components["quota"]
    # The serving process alone on SQLite counts in memory (test_quota_ledger.py); on a server database
    # every process shares the counter table.
    expected = LedgerCounter if runtime.engine.dialect.name == "sqlite" else DatabaseCounter
    assert isinstance(counter, expected) and isinstance(counter, QuotaCounter)
    assert await counter.reserve(user_id="a", rule_key="r", day=DAY, limit=1) == 0
    await counter.aclose()
