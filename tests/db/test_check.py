"""`db check`: every item passes on a migrated, seeded database; a missing object fails by name."""

from __future__ import annotations

from sqlalchemy import text

from unillm.db.check import PG_AUDIT_TRIGGERS, SQLITE_AUDIT_TRIGGERS, check_database, expected_indexes
from unillm.runtime import Runtime


async def _execute(runtime: Runtime, *statements: str) -> None:
    async with runtime.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


def _failed(report: object) -> set[tuple[str, str]]:
    return {(item.category, item.name) for item in report.failures}  # type: ignore[attr-defined]


async def test_a_complete_database_passes_every_item(runtime: Runtime, backend: str) -> None:
    report = await check_database(runtime.engine)
    assert report.ok, report.failures
    categories = {item.category for item in report.items}
    assert categories == {"table", "index", "audit protection", "migration", "seed"}
    names = {item.name for item in report.items}
    assert {"audit_log", "tier_model_rules", "ix_installed_models_last_used",
            "ix_audit_log_timestamp"} <= names
    triggers = PG_AUDIT_TRIGGERS if backend == "postgresql" else SQLITE_AUDIT_TRIGGERS
    assert set(triggers) <= names
    assert "ix_installed_models_last_used" in expected_indexes()


async def test_a_dropped_index_fails_by_name(runtime: Runtime) -> None:
    await _execute(runtime, "DROP INDEX ix_audit_log_action_type")
    report = await check_database(runtime.engine)
    assert _failed(report) == {("index", "ix_audit_log_action_type")}


async def test_a_dropped_table_fails_by_name(runtime: Runtime, backend: str) -> None:
    cascade = " CASCADE" if backend == "postgresql" else ""
    await _execute(runtime, f"DROP TABLE daily_cost_summary{cascade}")
    failed = _failed(await check_database(runtime.engine))
    assert ("table", "daily_cost_summary") in failed
    assert ("index", "ix_daily_cost_summary_date") in failed
    assert {category for category, _ in failed} == {"table", "index"}


async def test_a_dropped_or_disabled_trigger_fails(runtime: Runtime, backend: str) -> None:
    if backend == "postgresql":
        await _execute(runtime, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate",
                       "DROP TRIGGER audit_log_no_delete ON audit_log")
        report = await check_database(runtime.engine)
        details = {item.name: item.detail for item in report.failures}
        assert details == {"audit_log_no_truncate": "DISABLED", "audit_log_no_delete": "MISSING"}
    else:
        await _execute(runtime, "DROP TRIGGER audit_log_no_delete")
        assert _failed(await check_database(runtime.engine)) == {("audit protection", "audit_log_no_delete")}


async def test_a_missing_seed_rule_and_an_old_revision_fail(runtime: Runtime) -> None:
    await _execute(runtime, "DELETE FROM tier_model_rules WHERE tier_code = 'free' AND model_pattern = '*'",
                   "UPDATE alembic_version SET version_num = '0001'")
    report = await check_database(runtime.engine)
    assert _failed(report) == {("seed", "free"), ("migration", "revision")}
    details = {item.name: item.detail for item in report.failures}
    assert details["free"] == "3/4 seeded rules"
    assert details["revision"].startswith("at 0001, head is ")
