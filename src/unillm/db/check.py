"""`unillm db check`: compare the live database with what unillm expects, item by item.

Checks every table and index the models declare, the audit log's protecting triggers, the migration
revision and the tier-rule seed, so an operator sees exactly what is missing instead of a failure
later at request time. Indexes and triggers are read from the catalogs (SQLAlchemy cannot reflect
the expression index `ix_installed_models_last_used` without a warning).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from unillm.db import migrate
from unillm.db.base import Base, load_all_models

EXTRA_INDEXES = ("ix_installed_models_last_used",)
PG_AUDIT_TRIGGERS = ("audit_log_chain", "audit_log_no_update", "audit_log_no_delete", "audit_log_no_truncate")
SQLITE_AUDIT_TRIGGERS = ("audit_log_no_update", "audit_log_no_delete")


@dataclass(frozen=True, slots=True)
class CheckItem:
    category: str
    name: str
    ok: bool
    detail: str


@dataclass
class CheckReport:
    items: list[CheckItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    @property
    def failures(self) -> list[CheckItem]:
        return [item for item in self.items if not item.ok]

    def add(self, category: str, name: str, ok: bool, detail: str) -> None:
        self.items.append(CheckItem(category, name, ok, detail))


def expected_indexes() -> dict[str, str]:
    """Index name -> table, from the models plus the expression index the migration creates."""
    load_all_models()
    indexes: dict[str, str] = {str(index.name): table.name for table in Base.metadata.sorted_tables
               for index in table.indexes if isinstance(index.name, str)}
    for name in EXTRA_INDEXES:
        indexes.setdefault(name, "installed_models")
    return indexes


def _live_indexes(connection: Connection) -> set[str]:
    if connection.dialect.name == "postgresql":
        sql = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND name IS NOT NULL"
    return {row[0] for row in connection.execute(text(sql))}


def _live_triggers(connection: Connection) -> dict[str, bool]:
    """Trigger name -> enabled, for audit_log (SQLite triggers cannot be disabled)."""
    if connection.dialect.name == "postgresql":
        rows = connection.execute(text(
            "SELECT t.tgname, t.tgenabled <> 'D' FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relname = 'audit_log' AND c.relnamespace = current_schema()::regnamespace "
            "AND NOT t.tgisinternal"
        ))
        return {row[0]: bool(row[1]) for row in rows}
    rows = connection.execute(text(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
    ))
    return {row[0]: True for row in rows}


def _seed_counts(connection: Connection) -> Counter[str]:
    from unillm.access.seed_data import SEED_TIER_RULES

    seeded = {(tier, rule.model_pattern) for tier, rules in SEED_TIER_RULES.items() for rule in rules}
    present = connection.execute(text("SELECT tier_code, model_pattern FROM tier_model_rules"))
    return Counter(tier for tier, pattern in present if (tier, pattern) in seeded)


def _inspect(connection: Connection, report: CheckReport) -> None:
    from unillm.access.seed_data import EXPECTED_COUNTS

    load_all_models()
    tables = set(inspect(connection).get_table_names())
    for name in sorted(Base.metadata.tables):
        report.add("table", name, name in tables, "present" if name in tables else "MISSING")
    live_indexes = _live_indexes(connection)
    for name, table in sorted(expected_indexes().items()):
        ok = name in live_indexes
        report.add("index", name, ok, f"on {table}" if ok else f"MISSING (on {table})")
    postgres = connection.dialect.name == "postgresql"
    triggers = _live_triggers(connection) if "audit_log" in tables else {}
    for name in PG_AUDIT_TRIGGERS if postgres else SQLITE_AUDIT_TRIGGERS:
        enabled = triggers.get(name)
        detail = "enabled" if enabled else ("DISABLED" if enabled is False else "MISSING")
        report.add("audit protection", name, bool(enabled), detail)
    counts = _seed_counts(connection) if "tier_model_rules" in tables else Counter[str]()
    for tier, expected in EXPECTED_COUNTS.items():
        found = counts.get(tier, 0)
        report.add("seed", tier, found == expected, f"{found}/{expected} seeded rules")


async def check_database(engine: AsyncEngine) -> CheckReport:
    """Run every check; never raises for a missing object (that is what the report is for)."""
    report = CheckReport()
    async with engine.connect() as connection:
        await connection.run_sync(_inspect, report)
    revision = await migrate.current_revision(engine)
    head = migrate.head_revision()
    report.add("migration", "revision", revision == head,
               f"at {revision} (head)" if revision == head else f"at {revision or 'base'}, head is {head}")
    return report
