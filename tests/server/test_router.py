"""The model-server admin API end to end over ASGI, with a fake Ollama behind it."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes import FakeOllama, FakeVLLM
from tests.server.conftest import Api

BASE = "/api/v1/model-servers"


async def _create(api: Api, fake: FakeOllama | FakeVLLM, name: str = "gpu1",
                  type_: str = "ollama") -> dict[str, Any]:
    response = await api.call("POST", BASE, json={"name": name, "type": type_, "host": fake.host,
                                                  "port": fake.port})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_crud_conflicts_and_validation(api: Api, ollama: FakeOllama) -> None:
    created = await _create(api, ollama)
    assert created["health_status"] == "unknown"
    assert created["base_url"] == ollama.base_url
    again = await api.call("POST", BASE, json={"name": "gpu1", "type": "ollama", "host": "10.0.0.1",
                                               "port": 1})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    bad_type = await api.call("POST", BASE, json={"name": "x", "type": "tgi", "host": "h", "port": 1})
    assert bad_type.status_code == 422
    listed = (await api.call("GET", BASE)).json()
    assert [s["name"] for s in listed["items"]] == ["gpu1"] and listed["next_cursor"] is None
    patched = await api.call("PATCH", f"{BASE}/{created['id']}", json={"enabled": False})
    assert patched.json()["enabled"] is False
    assert (await api.call("DELETE", f"{BASE}/{created['id']}")).status_code == 204
    assert (await api.call("GET", f"{BASE}/{created['id']}")).status_code == 404
    assert await api.audit_actions() == ["server_added", "server_updated", "server_removed"]


async def test_pull_streams_ndjson_then_models_list_has_it(api: Api, ollama: FakeOllama) -> None:
    server = await _create(api, ollama)
    response = await api.call("POST", f"{BASE}/{server['id']}/models/pull", json={"model": "qwen2.5:0.5b"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0] == {"status": "pulling manifest", "total": None, "completed": None, "digest": None}
    assert any(line.get("completed") == line.get("total") and line.get("total") for line in lines)
    assert lines[-2]["status"] == "success"
    assert lines[-1]["sync"]["added"] == ["llama3.1:8b", "qwen2.5:0.5b"]
    models = (await api.call("GET", f"{BASE}/{server['id']}/models")).json()
    assert [m["model_id"] for m in models] == ["ollama/llama3.1:8b", "ollama/qwen2.5:0.5b"]
    failed = await api.call("POST", f"{BASE}/{server['id']}/models/pull", json={"model": "missing:1b"})
    assert json.loads(failed.text.splitlines()[-1]) == {
        "error": f"ollama server at {ollama.base_url} refused to pull missing:1b: HTTP 500: "
                 "pull model manifest: file does not exist"}
    deleted = await api.call("DELETE", f"{BASE}/{server['id']}/models/qwen2.5:0.5b")
    assert deleted.status_code == 204
    assert "qwen2.5:0.5b" not in ollama.models
    assert await api.audit_actions() == ["server_added", "model_pulled", "model_deleted"]


async def test_pull_on_vllm_is_not_supported(api: Api) -> None:
    async with FakeVLLM() as fake:
        server = await _create(api, fake, type_="vllm")
        response = await api.call("POST", f"{BASE}/{server['id']}/models/pull", json={"model": "x"})
    assert response.status_code == 400
    assert response.json() == {"detail": "pulling models is not supported by vllm"}


async def test_health_and_sync_on_demand(api: Api, ollama: FakeOllama) -> None:
    server = await _create(api, ollama)
    health = (await api.call("GET", f"{BASE}/{server['id']}/health")).json()
    assert (health["status"], health["error"]) == ("healthy", None)
    ollama.set_malformed()
    sync = await api.call("POST", f"{BASE}/{server['id']}/sync")
    assert sync.status_code == 502 and "malformed JSON" in sync.json()["detail"]
    ollama.heal()
    sync = await api.call("POST", f"{BASE}/{server['id']}/sync")
    assert sync.json()["added"] == ["llama3.1:8b"]
    await ollama.stop()
    everything = (await api.call("POST", f"{BASE}/health-check-all")).json()
    assert [(h["status"], "cannot connect" in h["error"]) for h in everything] == [("unhealthy", True)]
    assert await api.audit_actions() == ["server_added", "server_synced"]


async def test_slow_server_answers_504_quickly_with_a_clear_message(api: Api, ollama: FakeOllama) -> None:
    response = await api.call("POST", BASE, json={"name": "slow", "type": "ollama", "host": ollama.host,
                                                  "port": ollama.port, "metadata": {"timeout_seconds": 0.2}})
    server_id = response.json()["id"]
    ollama.set_latency(1.0)
    sync = await api.call("POST", f"{BASE}/{server_id}/sync")
    assert sync.status_code == 504
    assert sync.json() == {"detail": f"ollama server at {ollama.base_url} did not answer GET /api/tags "
                                     "within 0.2 s"}
    health = (await api.call("GET", f"{BASE}/{server_id}/health")).json()
    assert health["status"] == "unhealthy" and "did not answer" in health["error"]
