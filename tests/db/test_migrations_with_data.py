"""Downgrade and upgrade again with data in the tables: nothing that survives the downgrade is lost,
and the audit chain still verifies afterwards."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from tests.conftest import make_settings
from unillm.audit import service as audit_service
from unillm.audit.schemas import AuditContext
from unillm.auth import service as auth_service
from unillm.db import migrate
from unillm.runtime import Runtime
from unillm.usage.models import DailyCostSummary, UsageLog
from unillm.usage.pricing import Price
from unillm.usage.records import UsageRecord
from unillm.usage.writer import UsageWriter

CONTEXT = AuditContext(actor="test")
COUNTED = ("users", "api_keys", "tier_model_rules", "llm_usage_logs", "daily_cost_summary", "audit_log")


async def _counts(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        return {
            table: int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0) for table in COUNTED
        }


async def test_upgrade_downgrade_upgrade_keeps_the_data(database_url: str, tmp_path: Path) -> None:
    runtime = Runtime.create(make_settings(database_url, tmp_path / "data"))
    try:
        async with runtime.sessions.begin() as session:
            await auth_service.create_key(
                session=session, context=CONTEXT, user_id="alice", tier_code="professional"
            )
            await audit_service.record(
                session=session,
                context=CONTEXT,
                action_type="note_added",
                resource_type="note",
                resource_id="1",
                after={"text": "hello"},
            )
        writer = UsageWriter(sessions=runtime.sessions, tz=ZoneInfo("UTC"), journal_dir=None)
        for number in range(5):
            writer.submit(
                UsageRecord(
                    request_id=f"req-{number}",
                    timestamp=datetime(2026, 11, 20, 12, tzinfo=UTC),
                    model_id="openai/gpt-4o",
                    user_id="alice",
                    provider="openai",
                    tier_code="professional",
                    prompt_tokens=100,
                    completion_tokens=10,
                    total_tokens=110,
                    price=Price(Decimal("0.0025"), Decimal("0.01")),
                    cost_usd=Decimal("0.00035"),
                )
            )
        await writer.flush()
        before = await _counts(runtime)
        assert before["llm_usage_logs"] == 5 and before["audit_log"] >= 2

        await migrate.downgrade_async(database_url, "0001")
        await runtime.engine.dispose()  # connections cached the old schema
        assert await _counts(runtime) == before

        await migrate.upgrade_async(database_url)
        await runtime.engine.dispose()
        assert await _counts(runtime) == before
        async with runtime.sessions() as session:
            assert await session.scalar(select(func.sum(UsageLog.cost_usd))) == Decimal("0.00175")
            assert await session.scalar(select(func.sum(DailyCostSummary.total_cost_usd))) == Decimal(
                "0.00175"
            )
            assert (await audit_service.verify(session=session)).ok
    finally:
        await runtime.close()
