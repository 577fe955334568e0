"""Usage test helpers: records with sensible defaults, and a writer on the test's runtime."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from unillm import deps
from unillm.app import create_app
from unillm.auth.principal import Principal
from unillm.config import Settings
from unillm.db.types import utcnow
from unillm.runtime import Runtime
from unillm.usage.pricing import Price, cost_usd
from unillm.usage.records import UsageRecord
from unillm.usage.writer import UsageWriter

TINY = Price(input_per_1k=Decimal("0.000004"), output_per_1k=Decimal("0.000004"))
GPT4O = Price(input_per_1k=Decimal("0.0025"), output_per_1k=Decimal("0.01"),
              cached_input_per_1k=Decimal("0.00125"))


def make_record(*, request_id: str | None = None, price: Price | None = GPT4O, prompt: int = 100,
                cached: int = 0, completion: int = 50, timestamp: datetime | None = None,
                **overrides: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "request_id": request_id or f"req-{uuid.uuid4().hex}",
        "timestamp": timestamp or utcnow(), "user_id": "alice", "tier_code": "free",
        "model_id": "openai/gpt-4o", "provider": "openai", "source": "api",
        "prompt_tokens": prompt, "cached_prompt_tokens": cached, "completion_tokens": completion,
        "total_tokens": prompt + completion, "price": price,
        "cost_usd": cost_usd(price, prompt_tokens=prompt, cached_prompt_tokens=cached,
                             completion_tokens=completion),
        "latency_ms": 120, "time_to_first_token_ms": 30, "status": "success", "status_code": 200,
    }
    values.update(overrides)
    return UsageRecord(**values)


@pytest.fixture
async def writer(runtime: Runtime) -> AsyncIterator[UsageWriter]:
    writer = UsageWriter.from_runtime(runtime)
    yield writer
    await writer.aclose()


ADMIN = Principal(user_id="root", role="admin", tier_code="enterprise")
VIEWER = Principal(user_id="watcher", role="viewer", tier_code="free")
PLAIN = Principal(user_id="bob", role="user", tier_code="free")


@dataclass
class UsageApi:
    app: FastAPI
    client: httpx.AsyncClient
    who: list[Principal]

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def writer(self) -> UsageWriter:
        writer: UsageWriter = self.runtime.components["usage"]
        return writer

    def act_as(self, principal: Principal) -> None:
        self.who[0] = principal


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[UsageApi]:
    app = create_app(settings)
    who = [ADMIN]
    app.dependency_overrides[deps.get_principal] = lambda: who[0]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://unillm.test") as client:
            yield UsageApi(app=app, client=client, who=who)
