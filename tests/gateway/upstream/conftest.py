"""Fixtures for the adapter tests: the gateway's upstream HTTP client, the fakes,
and targets pointing at them with a canary provider key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.openai_api import FakeOpenAI
from unillm.gateway.upstream import UpstreamTarget
from unillm.gateway.upstream.h1 import UpstreamHttp

PROVIDER_KEY = "sk-canary-PROVIDER-0123456789abcdef"


@pytest.fixture
async def http() -> AsyncIterator[UpstreamHttp]:
    client = UpstreamHttp()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def fake_anthropic() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as fake:
        yield fake


def openai_target(fake: FakeOpenAI, **overrides: Any) -> UpstreamTarget:
    values: dict[str, Any] = {"upstream_type": "openai", "base_url": fake.base_url, "api_key": PROVIDER_KEY,
                              "upstream_model": "gpt-4o-mini", "connect_timeout": 2, "first_byte_timeout": 5,
                              "total_timeout": 20}
    values.update(overrides)
    return UpstreamTarget(**values)


def anthropic_target(fake: FakeAnthropic, **overrides: Any) -> UpstreamTarget:
    values: dict[str, Any] = {"upstream_type": "anthropic", "base_url": fake.base_url,
                              "api_key": PROVIDER_KEY, "upstream_model": "claude-3-5-sonnet-20241022",
                              "connect_timeout": 2, "first_byte_timeout": 5, "total_timeout": 20}
    values.update(overrides)
    return UpstreamTarget(**values)


def chat_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    body.update(extra)
    return body
