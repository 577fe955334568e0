"""One async engine and session factory for SQLite and PostgreSQL, made from one URL.

Users write `sqlite:///path.db` or `postgresql://user@host:port/db`; the async driver is chosen
here. SQLite gets WAL, foreign keys and a busy timeout on every connection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from unillm.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 10_000

URL_HELP = "use sqlite:///path/to/file.db or postgresql://user@host:5432/dbname"


def parse_database_url(raw: str) -> URL:
    """Turn the user's URL into one with an async driver, or say plainly what is wrong with it."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(f"UNILLM_DATABASE_URL {raw!r} is not a database URL; {URL_HELP}") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError(
                "UNILLM_DATABASE_URL must name a SQLite file (an in-memory database is lost between "
                f"connections); {URL_HELP}"
            )
        return url.set(drivername="sqlite+aiosqlite")
    if backend in {"postgresql", "postgres"}:
        if not url.database:
            raise ConfigError(f"UNILLM_DATABASE_URL {raw!r} names no database; {URL_HELP}")
        return url.set(drivername="postgresql+asyncpg")
    raise ConfigError(f"UNILLM_DATABASE_URL uses {backend!r}, which unillm does not support; {URL_HELP}")


def describe_url(url: URL) -> str:
    """The URL without its password, for messages."""
    return url.render_as_string(hide_password=True)


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = parse_database_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _enable_sqlite_pragmas)
        # Many-row INSERTs without RETURNING become multi-row VALUES statements: one sqlite3 step
        # each, not one per row (each step is a GIL hand-off between the driver's thread and the loop).
        engine.dialect.use_insertmanyvalues_wo_returning = True
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def create_sync_sqlite_engine(engine: AsyncEngine) -> Engine:
    """A blocking engine on the same SQLite file, for work that runs whole on one thread (the usage
    writer's batches): one connection, the same pragmas, multi-row INSERTs."""
    sync = sa_create_engine(engine.url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0,
                            connect_args={"check_same_thread": False})
    event.listen(sync, "connect", _enable_sqlite_pragmas)
    sync.dialect.use_insertmanyvalues_wo_returning = True
    return sync


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
