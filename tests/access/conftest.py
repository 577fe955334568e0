"""Fixtures of the access tests: a counter on each store, users for the check tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from unillm.access.models import ModelPermission
from unillm.access.quota.database import DatabaseCounter
from unillm.access.quota.memory import MemoryCounter
from unillm.access.quota.redis import RedisCounter
from unillm.auth import models as auth_models
from unillm.db.engine import create_engine, create_session_factory
from unillm.runtime import Runtime


@pytest.fixture
async def memory_counter() -> AsyncIterator[MemoryCounter]:
    counter = MemoryCounter()
    yield counter
    await counter.aclose()


@pytest.fixture
async def database_counter(runtime: Runtime) -> AsyncIterator[DatabaseCounter]:
    """On SQLite and on PostgreSQL (the `runtime` fixture runs the test on both)."""
    counter = DatabaseCounter(runtime.engine)
    yield counter
    await counter.aclose()


@pytest.fixture
async def redis_counter(redis_url: str, redis_key_prefix: str) -> AsyncIterator[RedisCounter]:
    counter = RedisCounter(redis_url, key_prefix=redis_key_prefix)
    yield counter
    await counter.aclose()


# Users of the check tests: (id, tier, role, disabled); trial-user also holds a permission.
USERS = [("pro-user", "professional", "user", False), ("trial-user", "trial", "user", False),
         ("gone-user", "enterprise", "user", True)]


async def add_users(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            for user_id, tier, role, disabled in USERS:
                session.add(auth_models.User(id=user_id, tier_code=tier, role=role, disabled=disabled))
            session.add(ModelPermission(model_id="openai/gpt-4*", access_type="user",
                                        access_value="trial-user", allowed=True))
    finally:
        await engine.dispose()


@pytest.fixture
async def seeded_runtime(runtime: Runtime, database_url: str) -> Runtime:
    """The runtime of a seeded database with the USERS added."""
    await add_users(database_url)
    return runtime
