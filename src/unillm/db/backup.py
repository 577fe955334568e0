"""`unillm db backup`: a restorable, consistent copy of the live database.

SQLite: the sqlite3 online backup API, which copies a consistent snapshot even while other
processes write (WAL); restore by copying the file back. PostgreSQL: `pg_dump --format=custom`
(restore with `createdb` + `pg_restore`). The password goes to pg_dump through PGPASSWORD, never on
the command line (visible to `ps`) and never in messages.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL

from unillm.db.engine import describe_url, parse_database_url
from unillm.errors import ConfigError

Progress = Callable[[str], None]
SQLITE_PAGES_PER_STEP = 1024


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    backend: str
    size_bytes: int
    source: str


def default_path(backend: str, directory: Path, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return directory / f"unillm-{stamp}.{'db' if backend == 'sqlite' else 'dump'}"


def _backup_sqlite(url: URL, target: Path, progress: Progress) -> None:
    assert url.database is not None
    source_path = Path(url.database).expanduser()
    if not source_path.exists():
        raise ConfigError(f"the SQLite database {source_path} does not exist; nothing to back up")
    source = sqlite3.connect(source_path)
    destination = sqlite3.connect(target)
    try:
        def _step(_status: int, remaining: int, total: int) -> None:
            progress(f"copied {total - remaining}/{total} pages")

        source.backup(destination, pages=SQLITE_PAGES_PER_STEP, progress=_step)
    finally:
        destination.close()
        source.close()


def pg_dump_command(url: URL, target: Path) -> tuple[list[str], dict[str, str]]:
    """The pg_dump arguments and environment; the password only in the environment."""
    command = ["pg_dump", "--format=custom", f"--file={target}", "--no-password"]
    if url.host:
        command.append(f"--host={url.host}")
    if url.port:
        command.append(f"--port={url.port}")
    if url.username:
        command.append(f"--username={url.username}")
    command.append(f"--dbname={url.database}")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return command, env


def _backup_postgres(url: URL, target: Path, progress: Progress) -> None:
    if shutil.which("pg_dump") is None:
        raise ConfigError("pg_dump is not on PATH; install the PostgreSQL client tools "
                          "(Debian/Ubuntu: apt-get install postgresql-client)")
    command, env = pg_dump_command(url, target)
    progress(f"running pg_dump of {describe_url(url)}")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 (fixed argv, no shell)
    if completed.returncode != 0:
        target.unlink(missing_ok=True)
        reason = (completed.stderr.strip().splitlines() or ["no message"])[-1]
        if url.password:
            reason = reason.replace(str(url.password), "***")
        raise ConfigError(f"pg_dump failed (exit {completed.returncode}): {reason}")


def backup(database_url: str, output: Path | None, default_directory: Path,
           progress: Progress | None = None) -> BackupResult:
    """Write the backup to `output` (or a timestamped file in `default_directory`); never overwrite."""
    url = parse_database_url(database_url)
    backend = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
    target = output if output is not None else default_path(backend, default_directory)
    if target.exists():
        raise ConfigError(f"{target} already exists; choose another file with -o")
    target.parent.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda _message: None)
    if backend == "sqlite":
        _backup_sqlite(url, target, report)
    else:
        _backup_postgres(url, target, report)
    return BackupResult(path=target, backend=backend, size_bytes=target.stat().st_size,
                        source=describe_url(url.set(drivername=url.get_backend_name())))
