"""`GET /api/v1/access/check` (viewer or admin)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from unillm.access.quota.memory import MemoryCounter
from unillm.app import create_app
from unillm.auth.principal import Principal
from unillm.config import Settings
from unillm.deps import get_principal
from unillm.runtime import Runtime


@pytest.fixture
async def api(seeded_runtime: Runtime,
              settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    app.state.runtime = seeded_runtime
    seeded_runtime.components["quota"] = MemoryCounter()
    viewer = Principal(user_id="ops", role="viewer", tier_code="free")
    app.dependency_overrides[get_principal] = lambda: viewer
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield app, client


async def test_api_check_for_tier_and_user(api: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = api
    denied = await client.get("/api/v1/access/check", params={"model": "openai/gpt-4o", "tier": "starter"})
    assert denied.status_code == 200
    body = denied.json()
    assert body["allowed"] is False and body["max_requests_per_day"] is None
    assert body["rule"]["kind"] == "tier_rule" and body["rule"]["pattern"] == "openai/gpt-4*"
    assert body["rule"]["priority"] == 10 and body["model"] == "openai/gpt-4o"
    assert body["message"] == "tier 'starter' rule 'openai/gpt-4*' (priority 10) denies openai/gpt-4o"
    user = (await client.get("/api/v1/access/check",
                             params={"model": "ollama/llama3", "user": "trial-user"})).json()
    assert user["allowed"] is True and user["max_requests_per_day"] == 100 and user["remaining_today"] == 100
    assert user["max_context_length"] == 2048 and user["user_id"] == "trial-user" and user["tier"] == "trial"
    assert user["role"] == "user"
    nothing = (await client.get("/api/v1/access/check",
                                params={"model": "a/b", "tier": "no-such-tier"})).json()
    assert nothing["allowed"] is False and nothing["rule"] is None
    assert nothing["message"] == "no rule or permission of tier 'no-such-tier' matches a/b"


async def test_api_errors(api: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = api
    unknown = await client.get("/api/v1/access/check", params={"model": "a/b", "user": "ghost"})
    assert unknown.status_code == 404 and "ghost" in unknown.json()["detail"]
    both = await client.get("/api/v1/access/check", params={"model": "a/b", "user": "x", "tier": "y"})
    assert both.status_code == 400
    empty = await client.get("/api/v1/access/check", params={"model": " ", "tier": "trial"})
    assert empty.status_code == 400
    missing = await client.get("/api/v1/access/check", params={"tier": "trial"})
    assert missing.status_code == 422
    app.dependency_overrides[get_principal] = lambda: Principal(user_id="u", role="user", tier_code="free")
    forbidden = await client.get("/api/v1/access/check", params={"model": "a/b", "tier": "trial"})
    assert forbidden.status_code == 403


