"""Fixtures of the server tests: a pooled aiohttp client, fake servers, and an API harness whose
principal is an admin (the dependency override the brief asks for)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.fakes import FakeModel, FakeOllama
from unillm import deps
from unillm.app import create_app
from unillm.audit.models import AuditLog
from unillm.audit.schemas import AuditContext
from unillm.auth.principal import Principal
from unillm.config import Settings
from unillm.runtime import Runtime

ADMIN = Principal(user_id="admin", role="admin", tier_code="enterprise")
CONTEXT = AuditContext(actor="tester", ip_address="127.0.0.1", user_agent="pytest")
LLAMA = FakeModel(name="llama3.1:8b", size_bytes=4_920_753_328, digest="sha256:" + "1" * 64,
                  context_length=131072)
QWEN = FakeModel(name="qwen2.5:0.5b", size_bytes=397_821_319, digest="sha256:" + "2" * 64, family="qwen2",
                 context_length=32768)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama([LLAMA]) as fake:
        fake.registry["qwen2.5:0.5b"] = QWEN
        yield fake


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, url, **kwargs)

    async def audit_actions(self) -> list[str]:
        async with self.runtime.sessions() as session:
            return list(await session.scalars(select(AuditLog.action_type).order_by(AuditLog.id)))


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    app = create_app(settings)
    app.dependency_overrides[deps.get_principal] = lambda: ADMIN
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://unillm.test") as client:
            yield Api(app=app, client=client)
