"""End-to-end gateway fixtures: unillm served by a real uvicorn on 127.0.0.1, set up only through
its public admin API, with fake upstreams, and the official `openai` SDK as the client.

`gateway` yields a `Gateway` with an admin HTTP client, a user key per tier, and helpers to read
the usage rows the ledger wrote.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from openai import AsyncOpenAI
from sqlalchemy import select

from tests.conftest import make_settings
from tests.fakes import FakeAnthropic, FakeOpenAI
from unillm.app import create_app
from unillm.auth import service as auth_service
from unillm.config import Settings
from unillm.runtime import Runtime
from unillm.usage.models import UsageLog

ADMIN_KEY = "ulm-test-admin-key-0123456789abcdefghijklmnopqrs"
OPENAI_PROVIDER_KEY = "sk-canary-openai-provider-DO-NOT-LEAK-4242"
ANTHROPIC_PROVIDER_KEY = "sk-ant-canary-provider-DO-NOT-LEAK-4343"


@asynccontextmanager
async def serve_app(settings: Settings) -> AsyncIterator[tuple[str, Runtime]]:
    """Run the real app under uvicorn on an ephemeral 127.0.0.1 port until the block ends."""
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", app.state.runtime
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Gateway:
    base_url: str
    runtime: Runtime
    admin: httpx.AsyncClient
    openai_fake: FakeOpenAI
    anthropic_fake: FakeAnthropic
    keys: dict[str, str] = field(default_factory=dict)
    clients: list[AsyncOpenAI] = field(default_factory=list)

    def client(self, key: str, **kwargs: Any) -> AsyncOpenAI:
        client = AsyncOpenAI(base_url=f"{self.base_url}/v1", api_key=key, max_retries=0, **kwargs)
        self.clients.append(client)
        return client

    async def close_clients(self) -> None:
        for client in self.clients:
            await client.close()

    async def create_key(self, user_id: str, tier_code: str, role: str = "user") -> str:
        response = await self.admin.post(
            "/api/v1/keys", json={"user_id": user_id, "tier_code": tier_code, "role": role}
        )
        assert response.status_code in (200, 201), response.text
        key: str = response.json()["key"]
        return key

    async def add_rule(
        self,
        tier_code: str,
        pattern: str,
        *,
        limit: int | None,
        context: int | None = None,
        priority: int = 100,
        allowed: bool = True,
    ) -> None:
        response = await self.admin.post(
            "/api/v1/access/tier-rules",
            json={
                "tier_code": tier_code,
                "model_pattern": pattern,
                "allowed": allowed,
                "max_requests_per_day": limit,
                "max_context_length": context,
                "priority": priority,
            },
        )
        assert response.status_code in (200, 201), response.text

    async def add_provider(self, name: str, type_: str, base_url: str, api_key: str) -> str:
        response = await self.admin.post(
            "/api/v1/llm/providers",
            json={"name": name, "type": type_, "base_url": base_url, "api_key": api_key},
        )
        assert response.status_code in (200, 201), response.text
        provider_id: str = response.json()["id"]
        return provider_id

    async def rows_eventually(self, count: int, timeout: float = 10.0) -> list[UsageLog]:
        """The usage rows once `count` exist: a stream's row is written when the server side of the
        stream ends, which may be just after the client has seen its last byte."""
        deadline = asyncio.get_running_loop().time() + timeout
        rows = await self.usage_rows()
        while len(rows) < count and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
            rows = await self.usage_rows()
        return rows

    async def usage_rows(self) -> list[UsageLog]:
        await self.runtime.components["usage"].flush()
        async with self.runtime.sessions() as session:
            return list((await session.scalars(select(UsageLog).order_by(UsageLog.id))).all())


async def _bootstrap_admin(settings: Settings) -> None:
    runtime = Runtime.create(settings)
    try:
        async with runtime.sessions.begin() as session:
            await auth_service.ensure_bootstrap_admin(session=session, admin_key=ADMIN_KEY)
    finally:
        await runtime.close()


@pytest.fixture
def gateway_settings(database_url: str, tmp_path: Path) -> Settings:
    # "auto", as users get it: on SQLite the serving process counts quota in memory (persisted by the
    # ledger), on PostgreSQL (no Redis here) every request goes through the counter table.
    return make_settings(
        database_url, tmp_path / "data", counter_backend="auto", snapshot_refresh_seconds=0.2
    )


@pytest.fixture
async def gateway(gateway_settings: Settings) -> AsyncIterator[Gateway]:
    await _bootstrap_admin(gateway_settings)
    async with FakeOpenAI() as openai_fake, FakeAnthropic() as anthropic_fake:
        openai_fake.expected_key = OPENAI_PROVIDER_KEY
        anthropic_fake.expected_key = ANTHROPIC_PROVIDER_KEY
        async with serve_app(gateway_settings) as (base_url, runtime):
            async with httpx.AsyncClient(
                base_url=base_url, timeout=10, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
            ) as admin:
                gw = Gateway(
                    base_url=base_url,
                    runtime=runtime,
                    admin=admin,
                    openai_fake=openai_fake,
                    anthropic_fake=anthropic_fake,
                )
                await gw.add_provider("openai-main", "openai", openai_fake.base_url, OPENAI_PROVIDER_KEY)
                await gw.add_provider(
                    "anthropic-main",
                    "anthropic",
                    anthropic_fake.base_url.removesuffix("/v1"),
                    ANTHROPIC_PROVIDER_KEY,
                )
                for tier in ("professional", "trial", "starter", "enterprise"):
                    gw.keys[tier] = await gw.create_key(f"user-{tier}", tier)
                try:
                    yield gw
                finally:
                    await gw.close_clients()
