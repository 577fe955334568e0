"""Running Alembic from code: the script location is inside the package, so an installed wheel migrates.

Concurrent upgrades are serialised: a PostgreSQL advisory lock (taken in env.py) and, for SQLite,
an exclusive lock file beside the database.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from unillm.db.engine import parse_database_url

SCRIPT_LOCATION = "unillm.db:migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


@contextmanager
def _sqlite_file_lock(database_url: str) -> Iterator[None]:
    url = parse_database_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        yield
        return
    lock_path = Path(url.database).expanduser().with_suffix(".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(database_url: str, revision: str = "head") -> None:
    with _sqlite_file_lock(database_url):
        command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    with _sqlite_file_lock(database_url):
        command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite:///unused.db")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync_connection: MigrationContext.configure(sync_connection).get_current_revision()
        )


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """`upgrade` from async code: Alembic runs its own event loop, so it gets a thread of its own."""
    await asyncio.to_thread(upgrade, database_url, revision)


async def downgrade_async(database_url: str, revision: str) -> None:
    await asyncio.to_thread(downgrade, database_url, revision)
