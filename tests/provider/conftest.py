"""Fixtures of the provider tests: an app with a switchable principal, an ASGI client, audit-row
helpers, and a minimal OpenAI/Anthropic-style `/v1/models` fake (tests/fakes/openai_api.py did not
exist when these were written; this one also echoes a rejected key, as some upstreams do)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from sqlalchemy import func, select

from unillm import deps
from unillm.app import create_app
from unillm.audit.models import AuditLog
from unillm.auth.principal import Principal
from unillm.config import Settings
from unillm.runtime import Runtime

CANARY = "sk-canary-DO-NOT-LEAK-1234"
ADMIN = Principal(user_id="alice", role="admin", tier_code="enterprise")
VIEWER = Principal(user_id="victor", role="viewer", tier_code="enterprise")
USER = Principal(user_id="ursula", role="user", tier_code="free")


@dataclass
class PrincipalHolder:
    principal: Principal = ADMIN


@dataclass
class ApiHarness:
    app: FastAPI
    client: httpx.AsyncClient
    holder: PrincipalHolder
    bodies: list[str] = field(default_factory=list)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def act_as(self, principal: Principal) -> None:
        self.holder.principal = principal

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, url, **kwargs)
        self.bodies.append(response.text)
        return response

    async def audit_count(self) -> int:
        async with self.runtime.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(AuditLog)) or 0)

    async def audit_rows(self) -> list[AuditLog]:
        async with self.runtime.sessions() as session:
            return list((await session.scalars(select(AuditLog).order_by(AuditLog.id))).all())


async def start_harness(settings: Settings) -> AsyncIterator[ApiHarness]:
    app = create_app(settings)
    holder = PrincipalHolder()
    app.dependency_overrides[deps.get_principal] = lambda: holder.principal
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://unillm.test",
                                     headers={"user-agent": "pytest-admin"}) as client:
            yield ApiHarness(app=app, client=client, holder=holder)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[ApiHarness]:
    async for harness in start_harness(settings):
        yield harness


class FakeModelsApi:
    """GET /v1/models answering OpenAI's shape to the right key (Bearer or x-api-key) and a 401
    that echoes the presented key otherwise."""

    def __init__(self, api_key: str, models: list[str] | None = None) -> None:
        self.api_key = api_key
        self.models = models or ["gpt-4o", "gpt-4o-mini"]
        self.seen_headers: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _models(self, request: web.Request) -> web.Response:
        self.seen_headers.append(dict(request.headers))
        presented = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
            "Bearer ")
        if presented != self.api_key:
            return web.json_response({"error": {"message": f"Incorrect API key provided: {presented}"}},
                                     status=401)
        data = [{"id": model, "object": "model"} for model in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _html(self, _: web.Request) -> web.Response:
        return web.Response(text="<html>please log in</html>", content_type="text/html")

    async def _moved(self, _: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/v1/models"})

    async def __aenter__(self) -> FakeModelsApi:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/html/models", self._html)
        app.router.add_get("/moved/models", self._moved)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def fake_models() -> AsyncIterator[FakeModelsApi]:
    async with FakeModelsApi(CANARY) as fake:
        yield fake
