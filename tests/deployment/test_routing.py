"""The routing table (pure) and the picker: resolution rules, health filtering, load spreading,
cooldown and failover exclusion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from unillm.deployment.routing import ProviderRoute, RouteTarget, RoutingTable, TargetPicker


@dataclass
class Server:
    id: uuid.UUID
    type: str
    host: str
    port: int
    enabled: bool = True
    health_status: str = "healthy"


@dataclass
class Model:
    id: uuid.UUID
    server_id: uuid.UUID
    model_name: str
    status: str = "present"


@dataclass
class Deployment:
    id: uuid.UUID
    server_id: uuid.UUID
    model_id: uuid.UUID
    alias: str | None
    status: str = "running"
    weight: int = 1


def _u() -> uuid.UUID:
    return uuid.uuid4()


A, B, C = (Server(_u(), "ollama", "127.0.0.1", port) for port in (11434, 11435, 11436))
MA, MB, MC = (Model(_u(), s.id, "llama3.1:8b") for s in (A, B, C))
OPENAI = ProviderRoute(id=_u(), type="openai", base_url="https://api.openai.com/v1", enabled=True)


def test_local_id_maps_to_every_routable_server_with_the_model() -> None:
    B.health_status = "unhealthy"
    try:
        table = RoutingTable.build([A, B, C], [MA, MB, MC], [], [])
    finally:
        B.health_status = "healthy"
    canonical, targets = table.resolve("ollama/llama3.1:8b")
    assert canonical == "ollama/llama3.1:8b"
    assert {t.server_id for t in targets} == {A.id, C.id}
    assert {t.base_url for t in targets} == {"http://127.0.0.1:11434/v1", "http://127.0.0.1:11436/v1"}
    assert all(t.upstream_model == "llama3.1:8b" and t.kind == "server" for t in targets)
    assert table.resolve("vllm/llama3.1:8b") == ("vllm/llama3.1:8b", [])


def test_gone_models_and_disabled_servers_are_left_out() -> None:
    gone = Model(_u(), C.id, "old:1b", status="gone")
    off = Server(_u(), "ollama", "10.0.0.9", 1, enabled=False)
    table = RoutingTable.build([A, off, C], [gone, Model(_u(), off.id, "x:1b")], [], [])
    assert table.resolve("ollama/old:1b")[1] == []
    assert table.resolve("ollama/x:1b")[1] == []
    assert table.model_ids() == []


def test_alias_resolves_to_canonical_and_pins_its_deployments() -> None:
    d = Deployment(_u(), A.id, MA.id, "production-chat", weight=3)
    stopped = Deployment(_u(), C.id, MC.id, "old-chat", status="stopped")
    table = RoutingTable.build([A, B, C], [MA, MB, MC], [d, stopped], [])
    canonical, targets = table.resolve("production-chat")
    assert canonical == "ollama/llama3.1:8b"
    assert [(t.server_id, t.deployment_id, t.weight) for t in targets] == [(A.id, d.id, 3)]
    pinned = {t.server_id: t for t in table.resolve("ollama/llama3.1:8b")[1]}
    assert pinned[A.id].deployment_id == d.id and pinned[B.id].deployment_id is None
    assert table.resolve("old-chat") == ("old-chat", [])
    assert table.model_ids() == ["ollama/llama3.1:8b", "production-chat"]


def test_cloud_id_maps_to_each_enabled_provider_of_its_type() -> None:
    disabled = ProviderRoute(id=_u(), type="openai", base_url="https://x/v1", enabled=False)
    router = ProviderRoute(id=_u(), type="openrouter", base_url="https://openrouter.ai/api/v1", enabled=True)
    table = RoutingTable.build([], [], [], [OPENAI, disabled, router])
    canonical, [target] = table.resolve("openai/gpt-4o")
    assert (canonical, target.provider_id, target.upstream_model, target.kind) == (
        "openai/gpt-4o", OPENAI.id, "gpt-4o", "provider")
    [nested] = table.resolve("openrouter/meta-llama/llama-3-8b-instruct")[1]
    assert nested.upstream_model == "meta-llama/llama-3-8b-instruct"
    assert table.resolve("anthropic/claude-3-5-sonnet")[1] == []
    assert table.resolve("nonsense")[1] == []


def _targets(*weights: int) -> list[RouteTarget]:
    return [RouteTarget(key=f"server:{i}", kind="server", upstream_type="ollama", base_url=f"http://h{i}/v1",
                        upstream_model="m", weight=w) for i, w in enumerate(weights)]


def test_picker_alternates_idle_targets_and_prefers_the_least_busy() -> None:
    picker = TargetPicker()
    targets = _targets(1, 1)
    picks = []
    for _ in range(4):
        chosen = picker.acquire(targets)
        assert chosen is not None
        picks.append(chosen.key)
        picker.release(chosen, ok=True)
    assert picks == ["server:0", "server:1", "server:0", "server:1"]
    first = picker.acquire(targets)
    second = picker.acquire(targets)
    assert first is not None and second is not None and first.key != second.key
    picker.release(first, ok=True)
    assert picker.acquire(targets) == first  # the other one is still busy


def test_picker_respects_weights() -> None:
    picker = TargetPicker()
    targets = _targets(3, 1)
    held = [picker.acquire(targets) for _ in range(8)]
    counts = {t.key: sum(1 for h in held if h == t) for t in targets}
    assert counts == {"server:0": 6, "server:1": 2}


def test_cooldown_and_exclude_drive_failover() -> None:
    now = [100.0]
    picker = TargetPicker(clock=lambda: now[0])
    targets = _targets(1, 1)
    first = picker.acquire(targets)
    assert first is not None
    picker.release(first, ok=False)
    picker.cooldown(first, 15)
    second = picker.acquire(targets, exclude={first.key})
    assert second is not None and second.key != first.key
    assert picker.acquire(targets, exclude={second.key}) is None  # the first is cooling down
    now[0] += 15
    assert picker.acquire(targets, exclude={second.key}) == first
