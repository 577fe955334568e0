"""The fakes behave like the servers they stand for: shapes, streams, keep_alive, faults, stop/start."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.fakes import FakeLlamaCpp, FakeLMStudio, FakeModel, FakeOllama, FakeVLLM

MODEL = FakeModel(name="llama3.1:8b")


async def test_ollama_keep_alive_loads_and_unloads_in_ps() -> None:
    async with FakeOllama([MODEL]) as fake, aiohttp.ClientSession(base_url=fake.base_url) as http:
        async with http.post("/api/generate", json={"model": MODEL.name, "keep_alive": -1}) as r:
            assert (await r.json())["done"] is True
        async with http.get("/api/ps") as r:
            assert [m["name"] for m in (await r.json())["models"]] == [MODEL.name]
        async with http.post("/api/generate", json={"model": MODEL.name, "keep_alive": 0}) as r:
            assert (await r.json())["done_reason"] == "unload"
        async with http.get("/api/ps") as r:
            assert (await r.json())["models"] == []
        assert fake.paths() == ["/api/generate", "/api/ps", "/api/generate", "/api/ps"]
        assert fake.requests[0].body == {"model": MODEL.name, "keep_alive": -1}


async def test_ollama_pull_streams_progress_then_success() -> None:
    async with FakeOllama() as fake, aiohttp.ClientSession(base_url=fake.base_url) as http:
        fake.registry["qwen"] = FakeModel(name="qwen", size_bytes=1000)
        async with http.post("/api/pull", json={"model": "qwen"}) as r:
            lines = [json.loads(line) async for line in r.content if line.strip()]
        assert lines[0] == {"status": "pulling manifest"}
        progress = [line for line in lines if "total" in line]
        assert [p["completed"] for p in progress] == [250, 500, 750, 1000]
        assert lines[-1] == {"status": "success"}
        assert "qwen" in fake.models


@pytest.mark.parametrize("include_usage", [True, False])
async def test_openai_stream_ends_with_done_and_optional_usage(include_usage: bool) -> None:
    async with FakeVLLM() as fake, aiohttp.ClientSession(base_url=fake.base_url) as http:
        name = next(iter(fake.models))
        body = {"model": name, "stream": True, "messages": [{"role": "user", "content": "hi there"}],
                "stream_options": {"include_usage": include_usage}}
        async with http.post("/v1/chat/completions", json=body) as r:
            text = (await r.read()).decode()
        events = [chunk.removeprefix("data: ") for chunk in text.split("\n\n") if chunk]
        assert events[-1] == "[DONE]"
        last = json.loads(events[-2])
        assert ("usage" in last) is include_usage
        if include_usage:
            assert last["usage"]["prompt_tokens"] == 2 and last["choices"] == []


async def test_ollama_native_chat_streams_ndjson() -> None:
    async with FakeOllama([MODEL]) as fake, aiohttp.ClientSession(base_url=fake.base_url) as http:
        async with http.post("/api/chat", json={"model": MODEL.name, "messages": []}) as r:
            lines = [json.loads(line) async for line in r.content if line.strip()]
        assert lines[-1]["done"] is True
        assert "".join(line["message"]["content"] for line in lines).strip() == fake.reply_text


async def test_faults_and_stop_start_on_the_same_port() -> None:
    async with FakeLlamaCpp() as fake, aiohttp.ClientSession(base_url=fake.base_url) as http:
        port = fake.port
        fake.fail_with(503, "/health")
        async with http.get("/health") as r:
            assert r.status == 503
        async with http.get("/props") as r:
            assert r.status == 200
        fake.heal()
        fake.set_malformed()
        async with http.get("/v1/models") as r:
            with pytest.raises(json.JSONDecodeError):
                json.loads(await r.read())
        fake.heal()
        await fake.stop()
        with pytest.raises(aiohttp.ClientConnectorError):
            async with http.get("/health"):
                pass
        await fake.start()
        assert fake.port == port
        async with http.get("/health") as r:
            assert await r.json() == {"status": "ok"}


async def test_lmstudio_state_follows_load_and_unload() -> None:
    async with FakeLMStudio([MODEL]) as fake, aiohttp.ClientSession(base_url=fake.base_url) as http:
        async with http.get("/api/v0/models") as r:
            assert (await r.json())["data"][0]["state"] == "not-loaded"
        async with http.post("/api/v1/models/load", json={"model": MODEL.name}) as r:
            assert (await r.json())["instance_id"] == MODEL.name
        async with http.get("/api/v0/models") as r:
            assert (await r.json())["data"][0]["state"] == "loaded"
        async with http.post("/api/v1/models/unload", json={"instance_id": MODEL.name}) as r:
            assert r.status == 200
        assert fake.loaded == set()
