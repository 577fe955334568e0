"""`unillm servers|models|deployments` as a user runs them, against a fake Ollama on its own loop
(each CLI command runs, and ends, its own event loop)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fakes import FakeOllama
from tests.server.conftest import LLAMA, QWEN
from unillm.cli.main import app
from unillm.config import Settings


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("UNILLM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("UNILLM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("UNILLM_SECRET_KEY", settings.secret_key or "")
    return CliRunner()


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    loop = asyncio.new_event_loop()
    server = FakeOllama([LLAMA])
    server.registry[QWEN.name] = QWEN
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
    yield server
    asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def _json(cli: CliRunner, *args: str) -> Any:
    result = cli.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_servers_models_and_deployments(cli: CliRunner, fake: FakeOllama) -> None:
    added = _json(cli, "servers", "add", "gpu1", "--type", "ollama", "--host", fake.host,
                  "--port", str(fake.port))
    assert isinstance(added, dict) and added["name"] == "gpu1"
    duplicate = cli.invoke(app, ["servers", "add", "gpu1", "--type", "ollama", "--host", "h", "--port", "1"])
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    bad = cli.invoke(app, ["servers", "add", "x", "--type", "tgi", "--host", "h", "--port", "1"])
    assert bad.exit_code == 1 and "type" in bad.output

    assert _json(cli, "servers", "sync") == {"gpu1": {
        "server_id": added["id"], "added": [LLAMA.name], "updated": [], "gone": [], "returned": [],
        "unchanged": 0}}
    [health] = _json(cli, "servers", "health", "gpu1")
    assert health["status"] == "healthy"

    pulled = _json(cli, "models", "pull", "gpu1", QWEN.name)
    assert isinstance(pulled, dict) and pulled["sync"]["added"] == [QWEN.name]
    listed = _json(cli, "models", "list", "gpu1")
    assert [m["model_id"] for m in listed] == ["ollama/llama3.1:8b", "ollama/qwen2.5:0.5b"]
    _json(cli, "models", "delete", "gpu1", QWEN.name)
    assert QWEN.name not in fake.models

    deployed = _json(cli, "deployments", "create", "gpu1", LLAMA.name, "--alias", "chat")
    assert isinstance(deployed, dict) and deployed["status"] == "running"
    assert fake.loaded == {LLAMA.name}
    stopped = _json(cli, "deployments", "stop", deployed["id"])
    assert isinstance(stopped, dict) and stopped["status"] == "stopped" and fake.loaded == set()
    started = _json(cli, "deployments", "start", deployed["id"])
    assert isinstance(started, dict) and started["status"] == "running"
    [row] = _json(cli, "deployments", "list")
    assert row["alias"] == "chat"

    table = cli.invoke(app, ["servers", "list"])
    assert table.exit_code == 0 and "gpu1" in table.output
