"""The tier-rule seed through the CLI: 50 rules in the right tiers, one audit row, idempotent."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from unillm.access.seed_data import EXPECTED_COUNTS
from unillm.audit import service as audit_service
from unillm.audit.chain import VerifyResult
from unillm.cli.main import app
from unillm.db.engine import create_engine, create_session_factory


def _cli(database_url: str, tmp_path: Path, *args: str) -> dict[str, object]:
    env = {"UNILLM_DATABASE_URL": database_url, "UNILLM_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(result.stdout)
    return document


def _state(database_url: str) -> tuple[dict[str, int], list[tuple[str, str, str]], VerifyResult]:
    async def _main() -> tuple[dict[str, int], list[tuple[str, str, str]], VerifyResult]:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                counts = {str(tier): int(count) for tier, count in (await session.execute(text(
                    "SELECT tier_code, count(*) FROM tier_model_rules GROUP BY tier_code"
                ))).all()}
                audits = [(str(a), str(b), str(c)) for a, b, c in (await session.execute(text(
                    "SELECT action_type, resource_type, user_agent FROM audit_log"
                    " WHERE resource_type = 'tier_rule'"  # db upgrade also audits the default prices
                ))).all()]
                items, _ = await audit_service.query(session=session, resource_type="tier_rule")
                assert all(item.details == {"before": None, "after": None, "count": 50} for item in items)
                return counts, audits, await audit_service.verify(session=session)
        finally:
            await engine.dispose()
    return asyncio.run(_main())


def test_upgrade_seeds_50_rules_with_one_audit_row_and_seed_adds_nothing(empty_database_url: str,
                                                                         tmp_path: Path) -> None:
    upgraded = _cli(empty_database_url, tmp_path, "db", "upgrade")
    assert (upgraded["seed_added"], upgraded["seed_present"]) == (50, 0)
    counts, audits, verified = _state(empty_database_url)
    assert counts == {"trial": 6, "free": 4, "starter": 11, "professional": 16, "enterprise": 13}
    assert counts == EXPECTED_COUNTS and sum(counts.values()) == 50
    assert audits == [("tier_rules_seeded", "tier_rule", "unillm-cli")]
    assert verified.ok

    assert _cli(empty_database_url, tmp_path, "db", "seed") == {"added": 0, "already_present": 50}
    again = _cli(empty_database_url, tmp_path, "db", "upgrade")
    assert (again["seed_added"], again["seed_present"]) == (0, 50)
    assert _state(empty_database_url)[:2] == (counts, audits)


def test_seed_restores_a_removed_rule_and_audits_it(database_url: str, tmp_path: Path) -> None:
    async def _remove() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("DELETE FROM tier_model_rules WHERE tier_code = 'trial'"))
        finally:
            await engine.dispose()

    asyncio.run(_remove())
    assert _cli(database_url, tmp_path, "db", "seed") == {"added": 6, "already_present": 44}

    async def _details() -> list[object]:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                items, _ = await audit_service.query(session=session, resource_type="tier_rule")
                return [item.details for item in items]
        finally:
            await engine.dispose()
    assert asyncio.run(_details()) == [{"before": None, "after": None, "count": 6}]
