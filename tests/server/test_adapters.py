"""Adapters against the fake servers: what each type reports, and that slow, failing, malformed and
dead servers give one clear error instead of hanging."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fakes import FakeLlamaCpp, FakeLMStudio, FakeModel, FakeOllama, FakeVLLM
from tests.server.conftest import LLAMA, QWEN
from unillm.errors import NotSupported, UpstreamError, UpstreamTimeout
from unillm.server.adapters import adapter_for


async def test_ollama_lists_models_with_details_and_context(http: aiohttp.ClientSession,
                                                            ollama: FakeOllama) -> None:
    ollama.loaded.add(LLAMA.name)
    adapter = adapter_for("ollama", http, ollama.host, ollama.port)
    [model] = await adapter.list_models()
    assert model.name == "llama3.1:8b"
    assert (model.size_bytes, model.quantization, model.family) == (LLAMA.size_bytes, "Q4_K_M", "llama")
    assert model.context_length == 131072
    assert model.digest == "1" * 64
    assert model.loaded is True
    assert (await adapter.health()).status == "healthy"


async def test_ollama_pull_reports_progress(http: aiohttp.ClientSession, ollama: FakeOllama) -> None:
    adapter = adapter_for("ollama", http, ollama.host, ollama.port)
    steps = [step async for step in adapter.pull(QWEN.name)]
    assert steps[-1].done
    completed = [s.completed or 0 for s in steps if s.total]
    assert completed == sorted(completed) and completed[-1] == QWEN.size_bytes
    assert QWEN.name in ollama.models


async def test_ollama_pull_of_unknown_model_is_a_clear_error(http: aiohttp.ClientSession,
                                                             ollama: FakeOllama) -> None:
    adapter = adapter_for("ollama", http, ollama.host, ollama.port)
    with pytest.raises(UpstreamError, match="file does not exist"):
        [step async for step in adapter.pull("nope:1b")]


async def test_ollama_load_unload_and_delete(http: aiohttp.ClientSession, ollama: FakeOllama) -> None:
    adapter = adapter_for("ollama", http, ollama.host, ollama.port)
    await adapter.load(LLAMA.name, keep_alive=-1)
    assert await adapter.loaded_models() == [LLAMA.name]
    assert ollama.requests[-2].body == {"model": LLAMA.name, "keep_alive": -1}
    await adapter.unload(LLAMA.name)
    assert await adapter.loaded_models() == []
    await adapter.delete(LLAMA.name)
    assert ollama.models == {}
    with pytest.raises(UpstreamError, match="HTTP 404"):
        await adapter.delete(LLAMA.name)


async def test_vllm_serves_one_model_and_cannot_manage(http: aiohttp.ClientSession) -> None:
    async with FakeVLLM() as fake:
        adapter = adapter_for("vllm", http, fake.host, fake.port)
        [model] = await adapter.list_models()
        assert (model.name, model.context_length, model.loaded) == (
            "meta-llama/Llama-3.1-8B-Instruct", 8192, True)
        assert (await adapter.health()).status == "healthy"
        assert fake.paths()[-1] == "/health"
        with pytest.raises(NotSupported, match="pulling models is not supported by vllm"):
            adapter.pull("x")
        with pytest.raises(NotSupported, match="one model per process"):
            await adapter.load("x")


async def test_llamacpp_reads_props_and_reports_loading_as_degraded(http: aiohttp.ClientSession) -> None:
    async with FakeLlamaCpp(FakeModel(name="Qwen2.5-7B-Instruct-Q5_K_M.gguf", context_length=4096)) as fake:
        adapter = adapter_for("llamacpp", http, fake.host, fake.port)
        [model] = await adapter.list_models()
        assert (model.context_length, model.quantization) == (4096, "Q5_K_M")
        fake.loading = True
        health = await adapter.health()
        assert health.status == "degraded" and "loading" in (health.detail or "")
        with pytest.raises(NotSupported):
            await adapter.unload(model.name)


async def test_lmstudio_reports_state_and_loads(http: aiohttp.ClientSession) -> None:
    async with FakeLMStudio([FakeModel(name="qwen2.5-7b-instruct", family="qwen2")]) as fake:
        adapter = adapter_for("lmstudio", http, fake.host, fake.port)
        [model] = await adapter.list_models()
        assert (model.loaded, model.family) == (False, "qwen2")
        await adapter.load(model.name)
        assert await adapter.loaded_models() == [model.name]
        await adapter.unload(model.name)
        assert await adapter.loaded_models() == []
        with pytest.raises(NotSupported, match="lmstudio"):
            await adapter.delete(model.name)


async def test_slow_server_times_out_clearly(http: aiohttp.ClientSession, ollama: FakeOllama) -> None:
    ollama.set_latency(2.0)
    adapter = adapter_for("ollama", http, ollama.host, ollama.port, timeout=0.2)
    with pytest.raises(UpstreamTimeout, match=r"did not answer GET /api/tags within 0.2 s"):
        await adapter.list_models()
    health = await adapter.health()
    assert health.status == "unhealthy" and "did not answer" in (health.detail or "")


async def test_error_status_and_malformed_json_are_clear(http: aiohttp.ClientSession,
                                                         ollama: FakeOllama) -> None:
    adapter = adapter_for("ollama", http, ollama.host, ollama.port)
    ollama.fail_with(500, "/api/tags")
    with pytest.raises(UpstreamError, match="HTTP 500: forced failure 500") as info:
        await adapter.list_models()
    assert info.value.upstream_status == 500
    ollama.heal()
    ollama.set_malformed()
    with pytest.raises(UpstreamError, match="malformed JSON for GET /api/tags"):
        await adapter.list_models()


async def test_dead_server_is_unreachable_then_back(http: aiohttp.ClientSession, ollama: FakeOllama) -> None:
    adapter = adapter_for("ollama", http, ollama.host, ollama.port)
    await ollama.stop()
    with pytest.raises(UpstreamError, match="cannot connect to ollama server"):
        await adapter.list_models()
    assert (await adapter.health()).status == "unhealthy"
    await ollama.start()
    assert (await adapter.health()).status == "healthy"


def test_unknown_type_is_a_bad_request() -> None:
    from unillm.errors import BadRequest

    with pytest.raises(BadRequest, match="unknown server type 'tgi'"):
        adapter_for("tgi", None, "h", 1)  # type: ignore[arg-type]
