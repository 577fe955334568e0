"""Test databases and Redis: a migrated, seeded template per backend, copied for every test.

PostgreSQL and Redis are used when reachable. `.ci/run` sets UNILLM_TEST_REQUIRE=postgres,redis,
and then a test that needs a missing service fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

PG_ADMIN_URL = os.environ.get("UNILLM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("UNILLM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRED = {part.strip() for part in os.environ.get("UNILLM_TEST_REQUIRE", "").split(",") if part.strip()}


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class BackendState:
    used: set[str] = field(default_factory=set)
    unavailable: dict[str, str] = field(default_factory=dict)


STATE = BackendState()


def require_service(name: str, url: str, default_port: int) -> None:
    if _reachable(url, default_port):
        STATE.used.add(name)
        return
    message = f"{name} is not reachable at {urlsplit(url).netloc}; .ci/run starts it"
    STATE.unavailable[name] = message
    if name in REQUIRED:
        pytest.fail(f"{message} (UNILLM_TEST_REQUIRE says it is required)")
    pytest.skip(message)


def pg_url(database: str) -> str:
    parts = urlsplit(PG_ADMIN_URL)
    return parts._replace(path=f"/{database}").geturl()


async def _pg_admin(*statements: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def pg_admin(*statements: str) -> None:
    asyncio.run(_pg_admin(*statements))


def create_pg_database(template: str | None = None) -> str:
    name = f"unillm_test_{uuid.uuid4().hex[:12]}"
    clause = f" TEMPLATE {template}" if template else ""
    pg_admin(f'CREATE DATABASE "{name}"{clause}')
    return name


def drop_pg_database(name: str) -> None:
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_and_seed(database_url: str) -> None:
    from unillm.access.seed import apply_seed
    from unillm.db import migrate
    from unillm.db.engine import create_engine, create_session_factory

    migrate.upgrade(database_url)

    async def _seed() -> None:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine).begin() as session:
                await apply_seed(session=session)
        finally:
            await engine.dispose()

    asyncio.run(_seed())


class Templates:
    """Builds each backend's migrated template once per test session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sqlite: Path | None = None
        self._pg: str | None = None

    def sqlite_copy(self, target: Path) -> str:
        if self._sqlite is None:
            template = self.root / "template.db"
            migrate_and_seed(f"sqlite:///{template}")
            with sqlite3.connect(template) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._sqlite = template
        shutil.copyfile(self._sqlite, target)
        return f"sqlite:///{target}"

    def pg_copy(self) -> tuple[str, str]:
        if self._pg is None:
            name = create_pg_database()
            migrate_and_seed(pg_url(name))
            self._pg = name
        name = create_pg_database(template=self._pg)
        return name, pg_url(name)

    def close(self) -> None:
        if self._pg is not None:
            drop_pg_database(self._pg)
