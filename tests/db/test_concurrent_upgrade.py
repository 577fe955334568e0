"""Two `unillm db upgrade` processes started at once on a fresh database both succeed, and the
database ends up migrated, seeded once, with one audit row for the seed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from unillm.audit import service as audit_service
from unillm.db import migrate
from unillm.db.engine import create_engine, create_session_factory

UNILLM = str(Path(sys.executable).parent / "unillm")


def _state(database_url: str) -> tuple[str | None, int, int, bool]:
    async def _main() -> tuple[str | None, int, int, bool]:
        engine = create_engine(database_url)
        try:
            revision = await migrate.current_revision(engine)
            async with create_session_factory(engine)() as session:
                rules = int(await session.scalar(text("SELECT count(*) FROM tier_model_rules")) or 0)
                audits = int(await session.scalar(text("SELECT count(*) FROM audit_log")) or 0)
                verified = await audit_service.verify(session=session)
            return revision, rules, audits, verified.ok
        finally:
            await engine.dispose()
    return asyncio.run(_main())


# PostgreSQL only (the advisory locks are what is under test; SQLite's lock file is simpler), and
# each process costs seconds of start-up on a shared machine.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_upgrades_at_once_both_succeed(empty_database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "UNILLM_DATABASE_URL": empty_database_url, "UNILLM_DATA_DIR": str(tmp_path)}
    processes = [
        subprocess.Popen([UNILLM, "db", "upgrade"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = [(process.wait(timeout=120), *process.communicate()) for process in processes]
    for code, out, err in outcomes:
        assert code == 0, err
        assert "database at revision" in out
    # one audit row for the tier-rule seed and one for the default prices, written once in all
    assert _state(empty_database_url) == (migrate.head_revision(), 50, 2, True)
