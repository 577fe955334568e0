"""Deployments over the admin API on both databases: status follows the fake server's real state
(Ollama's /api/ps after keep_alive loads and unloads), drift is corrected, one-model servers are
observed, and two servers holding one model share the load."""

from __future__ import annotations

import aiohttp

from tests.fakes import FakeModel, FakeOllama, FakeVLLM
from tests.server.conftest import LLAMA, Api
from unillm.deployment.reconcile import reconcile_all
from unillm.deployment.routing import TargetPicker, load_routing_table


async def _server_with_models(api: Api, fake: FakeOllama | FakeVLLM, name: str, type_: str = "ollama") -> str:
    created = await api.call("POST", "/api/v1/model-servers",
                             json={"name": name, "type": type_, "host": fake.host, "port": fake.port})
    server_id = str(created.json()["id"])
    assert (await api.call("POST", f"/api/v1/model-servers/{server_id}/sync")).status_code == 200
    return server_id


async def _ps(fake: FakeOllama, http: aiohttp.ClientSession) -> list[str]:
    async with http.get(f"{fake.base_url}/api/ps") as response:
        return [m["name"] for m in (await response.json())["models"]]


async def test_deployment_loads_and_unloads_following_ps(api: Api, ollama: FakeOllama,
                                                         http: aiohttp.ClientSession) -> None:
    server_id = await _server_with_models(api, ollama, "gpu1")
    created = await api.call("POST", "/api/v1/deployments", json={
        "server_id": server_id, "model_name": LLAMA.name, "alias": "production-chat", "weight": 2})
    assert created.status_code == 201, created.text
    deployment = created.json()
    assert (deployment["status"], deployment["canonical_model"]) == ("running", "ollama/llama3.1:8b")
    assert deployment["started_at"] is not None
    assert await _ps(ollama, http) == [LLAMA.name]
    assert {"model": LLAMA.name, "keep_alive": -1} in [r.body for r in ollama.requests]

    stopped = (await api.call("POST", f"/api/v1/deployments/{deployment['id']}/stop")).json()
    assert (stopped["status"], stopped["desired_status"]) == ("stopped", "stopped")
    assert stopped["stopped_at"] is not None
    assert await _ps(ollama, http) == []

    started = (await api.call("POST", f"/api/v1/deployments/{deployment['id']}/start")).json()
    assert started["status"] == "running" and await _ps(ollama, http) == [LLAMA.name]

    ollama.loaded.clear()  # someone unloaded it behind our back
    assert await reconcile_all(runtime=api.runtime) == 1
    assert await _ps(ollama, http) == [LLAMA.name]

    async with api.runtime.sessions() as session:
        table = await load_routing_table(session=session)
    canonical, [target] = table.resolve("production-chat")
    assert canonical == "ollama/llama3.1:8b" and target.weight == 2

    assert (await api.call("DELETE", f"/api/v1/deployments/{deployment['id']}")).status_code == 204
    assert await _ps(ollama, http) == []
    assert (await api.audit_actions())[-4:] == [
        "model_deployed", "deployment_stopped", "deployment_started", "deployment_removed"]


async def test_deployment_errors_are_recorded_not_raised(api: Api, ollama: FakeOllama) -> None:
    server_id = await _server_with_models(api, ollama, "gpu1")
    ollama.fail_with(500, "/api/generate")
    created = (await api.call("POST", "/api/v1/deployments",
                              json={"server_id": server_id, "model_name": LLAMA.name})).json()
    assert created["status"] == "error" and "HTTP 500" in created["error_message"]
    ollama.heal()
    restarted = await api.call("POST", f"/api/v1/deployments/{created['id']}/start")
    assert restarted.json()["status"] == "running"
    missing = await api.call("POST", "/api/v1/deployments",
                             json={"server_id": server_id, "model_name": "nope"})
    assert missing.status_code == 400 and "not installed" in missing.json()["detail"]
    dup = await api.call("POST", "/api/v1/deployments",
                         json={"server_id": server_id, "model_name": LLAMA.name, "alias": "a"})
    assert dup.status_code == 201
    again = await api.call("POST", "/api/v1/deployments", json={"server_id": server_id,
                                                                "model_name": LLAMA.name, "alias": "a"})
    assert again.status_code == 409


async def test_vllm_deployment_is_observed(api: Api) -> None:
    async with FakeVLLM() as fake:
        server_id = await _server_with_models(api, fake, "vllm1", type_="vllm")
        created = (await api.call("POST", "/api/v1/deployments", json={
            "server_id": server_id, "model_name": "meta-llama/Llama-3.1-8B-Instruct"})).json()
        assert created["status"] == "running"
        fake.models = {"other": FakeModel(name="other")}  # restarted with another model
        assert await reconcile_all(runtime=api.runtime) == 1
        listed = (await api.call("GET", "/api/v1/deployments")).json()["items"]
        assert listed[0]["status"] == "error" and "serves other" in listed[0]["error_message"]


async def test_two_ollama_servers_share_the_load(api: Api, http: aiohttp.ClientSession) -> None:
    async with FakeOllama([LLAMA]) as first, FakeOllama([LLAMA]) as second:
        await _server_with_models(api, first, "gpu1")
        await _server_with_models(api, second, "gpu2")
        async with api.runtime.sessions() as session:
            table = await load_routing_table(session=session)
        _, targets = table.resolve("ollama/llama3.1:8b")
        assert len(targets) == 2
        picker = TargetPicker()
        for _ in range(6):
            target = picker.acquire(targets)
            assert target is not None
            body = {"model": target.upstream_model, "messages": [{"role": "user", "content": "hi"}]}
            async with http.post(f"{target.base_url}/chat/completions", json=body) as response:
                assert response.status == 200
            picker.release(target, ok=True)
        chats = [[r for r in fake.requests if r.path == "/v1/chat/completions"] for fake in (first, second)]
        assert [len(c) for c in chats] == [3, 3]
