"""`db backup` round trip: back up, restore into a fresh database, the data is there and verifies."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from tests import backends
from tests.audit.conftest import CONTEXT, record_rows
from unillm.access.models import TierModelRule
from unillm.audit import service as audit_service
from unillm.db.backup import backup, default_path, pg_dump_command
from unillm.db.engine import create_engine, create_session_factory, parse_database_url
from unillm.errors import ConfigError
from unillm.runtime import Runtime


async def _add_rule_and_audit(runtime: Runtime) -> None:
    async with runtime.sessions.begin() as session:
        session.add(TierModelRule(tier_code="trial", model_pattern="backup/*", allowed=True, priority=7))
        await audit_service.record(session=session, context=CONTEXT, action_type="tier_rule_added",
                                   resource_type="tier_rule", resource_id="backup/*")
    await record_rows(runtime.sessions, 3)


async def _restored_state(database_url: str) -> tuple[int, int, bool]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            rules = int(await session.scalar(text(
                "SELECT priority FROM tier_model_rules WHERE model_pattern = 'backup/*'"
            )) or 0)
            audits = int(await session.scalar(text("SELECT count(*) FROM audit_log")) or 0)
            verified = await audit_service.verify(session=session)
        return rules, audits, verified.ok
    finally:
        await engine.dispose()


def _restore(backend: str, dump: Path, tmp_path: Path) -> tuple[str, str | None]:
    """A fresh database holding the backup; returns its URL and the PostgreSQL name to drop."""
    if backend == "sqlite":
        restored = tmp_path / "restored.db"
        shutil.copyfile(dump, restored)
        return f"sqlite:///{restored}", None
    name = f"unillm_restore_{tmp_path.name[-8:].replace('-', '_')}"
    admin = parse_database_url(backends.PG_ADMIN_URL)
    subprocess.run(["createdb", f"--host={admin.host}", f"--port={admin.port or 5432}",
                    f"--username={admin.username}", name], check=True)
    url = backends.pg_url(name)
    subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={url}", str(dump)], check=True)
    return url, name


async def test_backup_restores_with_data_and_a_valid_chain(runtime: Runtime, settings: object,
                                                           database_url: str, backend: str,
                                                           tmp_path: Path) -> None:
    await _add_rule_and_audit(runtime)
    messages: list[str] = []
    result = await asyncio.to_thread(backup, database_url, None, tmp_path / "backups", messages.append)
    assert result.path.parent == tmp_path / "backups"
    assert result.path.suffix == (".db" if backend == "sqlite" else ".dump")
    assert result.size_bytes > 0 and messages
    restored_url, pg_name = await asyncio.to_thread(_restore, backend, result.path, tmp_path)
    try:
        assert await _restored_state(restored_url) == (7, 4, True)
    finally:
        if pg_name is not None:
            await asyncio.to_thread(backends.drop_pg_database, pg_name)


def test_backup_refuses_to_overwrite(database_url: str, tmp_path: Path) -> None:
    target = tmp_path / "exists.db"
    target.write_text("keep me")
    with pytest.raises(ConfigError, match="already exists"):
        backup(database_url, target, tmp_path)
    assert target.read_text() == "keep me"


def test_default_name_and_pg_dump_arguments_keep_the_password_out_of_argv(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    when = datetime(2026, 11, 24, 9, 5, 7, tzinfo=UTC)
    assert default_path("sqlite", tmp_path, when) == tmp_path / "unillm-20261124T090507Z.db"
    assert default_path("postgresql", tmp_path, when).name == "unillm-20261124T090507Z.dump"
    url = parse_database_url("postgresql://bob:s3cret@db.example:6543/unillm")
    command, env = pg_dump_command(url, tmp_path / "x.dump")
    assert not any("s3cret" in part for part in command)
    assert env["PGPASSWORD"] == "s3cret"
    assert "--format=custom" in command and "--host=db.example" in command and "--port=6543" in command


def test_missing_pg_dump_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(ConfigError, match=r"pg_dump is not on PATH.*postgresql-client"):
        backup("postgresql://postgres@127.0.0.1:5432/whatever", None, tmp_path)
