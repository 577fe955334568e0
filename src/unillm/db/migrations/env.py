"""Alembic environment: async engines for both databases, batch mode for SQLite, and an advisory
lock on PostgreSQL so that two `unillm db upgrade` processes started at once run one after the other.

Migrations never import the app's models; autogenerate comparison (tests) passes metadata itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from unillm.db.engine import create_engine

# Any constant unique to unillm; held for the whole upgrade, released when the connection closes.
MIGRATION_LOCK_ID = 0x756E696C6C6D  # "unillm"


def _run_migrations(connection: Connection) -> None:
    is_postgres = connection.dialect.name == "postgresql"
    if is_postgres:
        connection.execute(text("SELECT pg_advisory_lock(:lock_id)"), {"lock_id": MIGRATION_LOCK_ID})
        connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=context.config.attributes.get("target_metadata"),
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if is_postgres:
            connection.execute(text("SELECT pg_advisory_unlock(:lock_id)"), {"lock_id": MIGRATION_LOCK_ID})
            connection.commit()


async def _run_async(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await engine.dispose()


def _main() -> None:
    attributes: dict[str, Any] = context.config.attributes
    connection = attributes.get("connection")
    if connection is not None:
        _run_migrations(connection)
        return
    asyncio.run(_run_async(attributes["database_url"]))


if context.is_offline_mode():
    raise SystemExit("unillm migrations run online only; use `unillm db upgrade`")
_main()
