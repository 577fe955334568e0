"""Fixtures of the auth tests: a runtime with a started snapshot store (long refresh interval, so a
test proves that a change is seen without waiting for the loop), audit-row helpers, and an app with
a real bootstrap admin key for router tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.conftest import make_settings
from unillm.app import create_app
from unillm.audit.models import AuditLog
from unillm.audit.schemas import AuditContext
from unillm.auth import service as auth_service
from unillm.auth import snapshot
from unillm.config import Settings
from unillm.runtime import Runtime

CONTEXT = AuditContext(actor="tester", ip_address="198.51.100.1", user_agent="pytest")


@pytest.fixture
def quiet_settings(database_url: str, tmp_path: Path) -> Settings:
    """No background refresh worth mentioning: anything seen was seen through notify/rebuild."""
    return make_settings(database_url, tmp_path / "data", snapshot_refresh_seconds=3600)


@pytest.fixture
async def store_runtime(quiet_settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(quiet_settings)
    try:
        await snapshot.start(runtime)
        yield runtime
    finally:
        await runtime.close()


async def audit_rows(runtime: Runtime) -> list[AuditLog]:
    async with runtime.sessions() as session:
        return list((await session.scalars(select(AuditLog).order_by(AuditLog.id))).all())


async def create_key(runtime: Runtime, user_id: str, **options: object) -> tuple[str, str]:
    """(key id, secret), committed and visible to this process's snapshot."""
    async with runtime.sessions.begin() as session:
        read, secret = await auth_service.create_key(session=session, context=CONTEXT, user_id=user_id,
                                                     **options)  # type: ignore[arg-type]
    await snapshot.notify_changed(runtime)
    return str(read.id), secret


@dataclass
class ApiHarness:
    app: FastAPI
    client: httpx.AsyncClient
    admin_key: str
    bodies: list[str]

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def request(self, method: str, url: str, *, key: str | None = None,
                      **kwargs: object) -> httpx.Response:
        headers = {"authorization": f"Bearer {key or self.admin_key}"}
        response = await self.client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        self.bodies.append(response.text)
        return response


@pytest.fixture
async def api(quiet_settings: Settings) -> AsyncIterator[ApiHarness]:
    bootstrap = Runtime.create(quiet_settings)
    try:
        async with bootstrap.sessions.begin() as session:
            admin_key = await auth_service.ensure_bootstrap_admin(session=session, admin_key=None)
    finally:
        await bootstrap.close()
    assert admin_key is not None
    app = create_app(quiet_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://unillm.test",
                                     headers={"user-agent": "pytest-admin"}) as client:
            yield ApiHarness(app=app, client=client, admin_key=admin_key, bodies=[])
