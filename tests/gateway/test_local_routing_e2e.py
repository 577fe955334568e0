"""Routing across local servers end to end: two fake Ollama servers holding the same model, synced
through the admin API; load spread, one stopped mid-run with no request lost, and its return."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.fakes import FakeModel, FakeOllama
from tests.gateway.conftest import Gateway
from unillm.config import Settings

MODEL = "ollama/llama3.1:8b"
HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture
def gateway_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, tmp_path / "data", counter_backend="database", gateway_cooldown_seconds=0.5
    )


async def _register(gateway: Gateway, name: str, fake: FakeOllama) -> str:
    created = await gateway.admin.post(
        "/api/v1/model-servers", json={"name": name, "type": "ollama", "host": "127.0.0.1", "port": fake.port}
    )
    assert created.status_code in (200, 201), created.text
    server_id: str = created.json()["id"]
    synced = await gateway.admin.post(f"/api/v1/model-servers/{server_id}/sync")
    assert synced.status_code == 200, synced.text
    return server_id


def _chat_count(fake: FakeOllama) -> int:
    return sum(1 for path in fake.paths() if path == "/v1/chat/completions")


async def test_two_servers_share_the_load_and_survive_one_stopping(gateway: Gateway) -> None:
    async with (
        FakeOllama([FakeModel("llama3.1:8b")]) as first,
        FakeOllama([FakeModel("llama3.1:8b")]) as second,
    ):
        ids = {await _register(gateway, "gpu-a", first), await _register(gateway, "gpu-b", second)}
        client = gateway.client(gateway.keys["trial"])

        async def ask() -> str:
            completion = await client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=50)
            return completion.choices[0].message.content or ""

        await asyncio.gather(*(ask() for _ in range(12)))
        assert _chat_count(first) > 0 and _chat_count(second) > 0
        assert _chat_count(first) + _chat_count(second) == 12

        await first.stop()
        # Every request started after the stop succeeds: connection errors fail over to gpu-b.
        results = await asyncio.gather(*(ask() for _ in range(10)), return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []

        await first.start()
        await asyncio.sleep(0.6)  # past the cooldown
        before = _chat_count(first)
        await asyncio.gather(*(ask() for _ in range(8)))
        assert _chat_count(first) > before

        rows = await gateway.rows_eventually(30)
        assert len(rows) == 30 and all(r.status == "success" for r in rows)
        assert {str(r.server_id) for r in rows} == ids
        assert all(r.provider == "ollama" and r.model_id == MODEL for r in rows)


async def test_no_server_holding_the_model_is_a_503_with_the_reason(gateway: Gateway) -> None:
    client = gateway.client(gateway.keys["trial"])
    import openai

    with pytest.raises(openai.InternalServerError) as unavailable:
        await client.chat.completions.create(model="ollama/absent:1b", messages=HELLO, max_tokens=10)
    assert unavailable.value.status_code == 503
    assert unavailable.value.code == "no_healthy_deployment"
    assert "ollama/absent:1b" in unavailable.value.message
