"""`unillm db check`, `db backup` and `db current` through the command line: reports, exit codes, and
one readable line (never a traceback) when the database URL is wrong."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from unillm.cli.main import app
from unillm.db.engine import create_engine

UNILLM = str(Path(sys.executable).parent / "unillm")


def _invoke(database_url: str, tmp_path: Path, *args: str, **env: str) -> Result:
    environment = {"UNILLM_DATABASE_URL": database_url, "UNILLM_DATA_DIR": str(tmp_path / "data"), **env}
    return CliRunner().invoke(app, list(args), env=environment)


def _execute(database_url: str, statement: str) -> None:
    async def _main() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()
    asyncio.run(_main())


def test_check_passes_on_a_complete_database(database_url: str, tmp_path: Path) -> None:
    result = _invoke(database_url, tmp_path, "db", "check")
    assert result.exit_code == 0, result.output
    assert "✓" in result.stdout and "✗" not in result.stdout and "checks passed" in result.stdout
    document = json.loads(_invoke(database_url, tmp_path, "db", "check", "--json").stdout)
    assert document["ok"] is True and document["failures"] == []
    assert {"category": "seed", "name": "professional", "ok": True, "detail": "16/16 seeded rules"} \
        in document["items"]


def test_check_names_a_dropped_index_and_a_dropped_table(database_url: str, backend: str,
                                                         tmp_path: Path) -> None:
    _execute(database_url, "DROP INDEX ix_llm_usage_logs_source")
    result = _invoke(database_url, tmp_path, "db", "check")
    assert result.exit_code == 1
    assert "✗" in result.stdout
    assert "1 check(s) failed: index ix_llm_usage_logs_source (MISSING (on llm_usage_logs))." \
        in " ".join(result.stderr.split())

    _execute(database_url, "DROP TABLE model_pricing" + (" CASCADE" if backend == "postgresql" else ""))
    result = _invoke(database_url, tmp_path, "db", "check", "--json")
    assert result.exit_code == 1
    failures = json.loads(result.stdout)["failures"]
    assert "table model_pricing: MISSING" in failures
    assert "index ix_llm_usage_logs_source: MISSING (on llm_usage_logs)" in failures
    result = _invoke(database_url, tmp_path, "db", "check")
    assert "check(s) failed: table model_pricing (MISSING); index " in " ".join(result.stderr.split())
    assert "Run `unillm db upgrade`." in result.stderr


def test_backup_writes_the_default_file_and_never_prints_the_password(database_url: str, backend: str,
                                                                       tmp_path: Path) -> None:
    url = database_url
    if backend == "postgresql":  # the test server trusts local connections, so any password works
        url = make_url(database_url).set(password="hunter2-secret").render_as_string(hide_password=False)
    result = _invoke(url, tmp_path, "db", "backup")
    assert result.exit_code == 0, result.output
    backups = list((tmp_path / "data" / "backups").iterdir())
    assert len(backups) == 1 and backups[0].name.startswith("unillm-")
    assert backups[0].suffix == (".db" if backend == "sqlite" else ".dump")
    assert "hunter2" not in result.output
    target = tmp_path / "explicit" / "copy.bak"
    result = _invoke(url, tmp_path, "db", "backup", "-o", str(target), "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["path"] == str(target) and document["size_bytes"] == target.stat().st_size > 0
    assert "hunter2" not in result.output


def test_backup_without_pg_dump_says_which_package(tmp_path: Path) -> None:
    result = _invoke("postgresql://postgres:pw@127.0.0.1:5432/x", tmp_path, "db", "backup",
                     PATH=str(tmp_path))
    assert result.exit_code == 1
    assert "postgresql-client" in result.stderr and "pw@" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unsupported_database_url_is_one_line(tmp_path: Path) -> None:
    result = _invoke("mysql://x", tmp_path, "db", "current")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "'mysql', which unillm does not support" in result.stderr.replace("\n", "")


def test_an_unreachable_database_is_one_line_without_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [UNILLM, "db", "current"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "UNILLM_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nope",
             "UNILLM_DATA_DIR": str(tmp_path)},
    )
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1, completed.stderr
    assert completed.stderr.startswith("error: cannot use the database at")
    assert "127.0.0.1:1/nope" in completed.stderr.replace("\n", "")
