"""Audit fixtures: writing rows through the service, and raw SQL "as a superuser" around the triggers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from unillm.audit import service as audit_service
from unillm.audit.schemas import AuditContext
from unillm.db.engine import create_engine, create_session_factory
from unillm.runtime import Runtime

CONTEXT = AuditContext(actor="admin", ip_address="127.0.0.1", user_agent="pytest")

RecordMany = Callable[[int], Awaitable[None]]
Tamper = Callable[[str], Awaitable[None]]


async def record_rows(sessions: async_sessionmaker[AsyncSession], count: int) -> None:
    for number in range(count):
        async with sessions.begin() as session:
            await audit_service.record(session=session, context=CONTEXT, action_type="provider_added",
                                       resource_type="provider", resource_id=f"p{number}",
                                       after={"name": f"p{number}", "api_key": "sk-secret"})


async def tamper_with(engine: AsyncEngine, statement: str) -> None:
    """Run one statement with the append-only triggers out of the way, as a database owner could."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            await connection.execute(text(statement))
            return
        triggers = (await connection.execute(text(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        ))).scalars().all()
        await connection.execute(text("DROP TRIGGER audit_log_no_update"))
        await connection.execute(text("DROP TRIGGER audit_log_no_delete"))
        await connection.execute(text(statement))
        for sql in triggers:
            await connection.execute(text(sql))


def _with_engine(database_url: str, work: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    async def _main() -> None:
        engine = create_engine(database_url)
        try:
            await work(engine)
        finally:
            await engine.dispose()
    asyncio.run(_main())


def record_rows_sync(database_url: str, count: int) -> None:
    """For synchronous (CLI) tests: write `count` audit rows through the service."""
    _with_engine(database_url, lambda engine: record_rows(create_session_factory(engine), count))


def tamper_sync(database_url: str, statement: str) -> None:
    _with_engine(database_url, lambda engine: tamper_with(engine, statement))


@pytest.fixture
def record_many(runtime: Runtime) -> RecordMany:
    async def _record(count: int) -> None:
        await record_rows(runtime.sessions, count)
    return _record


@pytest.fixture
def tamper(runtime: Runtime) -> Tamper:
    async def _tamper(statement: str) -> None:
        await tamper_with(runtime.engine, statement)
    return _tamper
