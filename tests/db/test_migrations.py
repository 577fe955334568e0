"""Migrations up, down, up on each backend, and the ORM models matching the migrated schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from unillm.db import migrate
from unillm.db.base import Base, load_all_models
from unillm.db.engine import create_engine

SCHEMA_TABLES = {
    "llm_providers", "model_servers", "installed_models", "model_deployments", "model_permissions",
    "tier_model_rules", "llm_usage_logs", "model_pricing", "daily_cost_summary", "audit_log",
}


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def _comparable(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # Expression indexes (DESC NULLS LAST) cannot be reflected for comparison; `db check` verifies
    # that this one exists on both backends.
    return not (type_ == "index" and name == "ix_installed_models_last_used")


async def _diff(url: str) -> list[object]:
    load_all_models()
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(
                        c, opts={"compare_type": True, "include_object": _comparable}
                    ),
                    Base.metadata,
                )
            )
    finally:
        await engine.dispose()


async def test_upgrade_creates_every_table_and_downgrade_removes_them(empty_database_url: str) -> None:
    await migrate.upgrade_async(empty_database_url)
    tables = await _tables(empty_database_url)
    assert SCHEMA_TABLES | {"users", "api_keys", "quota_counters"} <= tables
    await migrate.downgrade_async(empty_database_url, "base")
    assert await _tables(empty_database_url) <= {"alembic_version"}
    await migrate.upgrade_async(empty_database_url)
    assert SCHEMA_TABLES <= await _tables(empty_database_url)


async def test_models_match_migrations(empty_database_url: str) -> None:
    await migrate.upgrade_async(empty_database_url)
    diff = await _diff(empty_database_url)
    assert diff == [], f"models and migrations disagree: {diff}"


@pytest.mark.parametrize("revision", ["0001"])
async def test_each_revision_downgrades_cleanly(empty_database_url: str, revision: str) -> None:
    await migrate.upgrade_async(empty_database_url)
    await migrate.downgrade_async(empty_database_url, revision)
    await migrate.upgrade_async(empty_database_url)
    assert SCHEMA_TABLES <= await _tables(empty_database_url)
