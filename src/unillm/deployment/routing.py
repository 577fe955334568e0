"""The routing table the gateway consults on every request, and the picker that spreads load.

Pure (no I/O) apart from `load_routing_table`, which reads the rows once per rebuild.

Resolution of a requested model name:
- a deployment alias (`production-chat`, never containing `/`) resolves to its canonical id
  `<server type>/<model_name>`; its targets are its running deployments on routable servers;
- a local id (`ollama/llama3.1:8b`) maps to every enabled, routable server of that type where the model
  is present (Ollama and LM Studio load on demand), carrying the deployment id and weight of a running
  deployment pinning it there;
- a cloud id (`openai/gpt-4o`) maps to every enabled provider of that type; the upstream sees the part
  after the namespace;
- anything else: no targets.

Routable servers are `healthy`, `degraded` and `unknown` (not yet probed: refusing them would make a
freshly added server unusable until the first check; a failure puts the target in cooldown and the
gateway fails over). `unhealthy` servers are left out; the health checker's hysteresis keeps a
flapping server from toggling in and out.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

SERVER_TYPES = frozenset({"ollama", "vllm", "lmstudio", "llamacpp"})
ROUTABLE_HEALTH = frozenset({"healthy", "degraded", "unknown"})


@dataclass(frozen=True, slots=True)
class RouteTarget:
    key: str  # stable id for cooldown and in-flight tracking: `server:<id>` or `provider:<id>`
    kind: Literal["server", "provider"]
    upstream_type: str
    base_url: str
    upstream_model: str
    server_id: uuid.UUID | None = None
    deployment_id: uuid.UUID | None = None
    provider_id: uuid.UUID | None = None
    weight: int = 1


class ServerLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def type(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def health_status(self) -> str: ...


class InstalledModelLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def server_id(self) -> uuid.UUID: ...
    @property
    def model_name(self) -> str: ...
    @property
    def status(self) -> str: ...


class DeploymentLike(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def server_id(self) -> uuid.UUID: ...
    @property
    def model_id(self) -> uuid.UUID: ...
    @property
    def alias(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def weight(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ProviderRoute:
    """A cloud provider as routing sees it; credentials stay in the provider snapshot."""

    id: uuid.UUID
    type: str
    base_url: str | None
    enabled: bool


def server_base_url(server: ServerLike) -> str:
    """The OpenAI-compatible root of a local server (all four types serve `/v1`)."""
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"http://{host}:{server.port}/v1"


@dataclass(frozen=True, slots=True)
class RoutingTable:
    local: dict[str, tuple[RouteTarget, ...]] = field(default_factory=dict)
    aliases: dict[str, tuple[str, tuple[RouteTarget, ...]]] = field(default_factory=dict)
    providers: dict[str, tuple[ProviderRoute, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        servers: Iterable[ServerLike],
        installed_models: Iterable[InstalledModelLike],
        deployments: Iterable[DeploymentLike],
        providers: Iterable[ProviderRoute],
    ) -> RoutingTable:
        every_server = {s.id: s for s in servers}
        routable = {k: s for k, s in every_server.items() if s.enabled and s.health_status in ROUTABLE_HEALTH}
        models = {m.id: m for m in installed_models if m.status == "present"}
        live = sorted(
            (
                d
                for d in deployments
                if d.status == "running"
                and d.model_id in models
                and models[d.model_id].server_id == d.server_id
            ),
            key=lambda d: str(d.id),
        )
        # The deployment that lends its id and weight to a (server, model) target: the heaviest.
        running: dict[tuple[uuid.UUID, uuid.UUID], DeploymentLike] = {}
        for d in live:
            current = running.get((d.server_id, d.model_id))
            if current is None or d.weight > current.weight:
                running[(d.server_id, d.model_id)] = d

        def target(
            server: ServerLike, model: InstalledModelLike, pinned: DeploymentLike | None
        ) -> RouteTarget:
            return RouteTarget(
                key=f"server:{server.id}",
                kind="server",
                upstream_type=server.type,
                base_url=server_base_url(server),
                upstream_model=model.model_name,
                server_id=server.id,
                deployment_id=pinned.id if pinned else None,
                weight=max(1, pinned.weight) if pinned else 1,
            )

        local: dict[str, list[RouteTarget]] = {}
        for model in sorted(models.values(), key=lambda m: (m.model_name, str(m.server_id))):
            server = routable.get(model.server_id)
            if server is not None:
                local.setdefault(f"{server.type}/{model.model_name}", []).append(
                    target(server, model, running.get((server.id, model.id)))
                )

        # An alias keeps its canonical id even when no server is routable (it then resolves to no
        # targets: 503 rather than 404). The first deployment (by id) fixes the canonical id.
        aliases: dict[str, tuple[str, list[RouteTarget]]] = {}
        for d in live:
            model = models[d.model_id]
            any_server = every_server.get(d.server_id)
            if not d.alias or any_server is None:
                continue
            canonical = f"{any_server.type}/{model.model_name}"
            entry = aliases.setdefault(d.alias, (canonical, []))
            server = routable.get(d.server_id)
            if server is not None and entry[0] == canonical:
                entry[1].append(target(server, model, d))

        by_type: dict[str, list[ProviderRoute]] = {}
        for provider in providers:
            if provider.enabled and provider.base_url:
                by_type.setdefault(provider.type, []).append(provider)
        return cls(
            local={k: tuple(v) for k, v in local.items()},
            aliases={k: (c, tuple(t)) for k, (c, t) in aliases.items()},
            providers={k: tuple(v) for k, v in by_type.items()},
        )

    def resolve(self, model: str) -> tuple[str, list[RouteTarget]]:
        """The canonical model id and the targets that can serve it (empty: none can)."""
        if "/" not in model:
            alias = self.aliases.get(model)
            if alias is None:
                return model, []
            return alias[0], list(alias[1])
        namespace, upstream_model = model.split("/", 1)
        if namespace in SERVER_TYPES:
            return model, list(self.local.get(model, ()))
        return model, [
            RouteTarget(
                key=f"provider:{p.id}",
                kind="provider",
                upstream_type=p.type,
                base_url=p.base_url or "",
                upstream_model=upstream_model,
                provider_id=p.id,
            )
            for p in self.providers.get(namespace, ())
        ]

    def model_ids(self) -> list[str]:
        """Every local model id with a routable server, and every alias; cloud models are open-ended."""
        return sorted({*self.local, *self.aliases})


class TargetPicker:
    """Least in-flight requests per unit of weight, skipping targets in cooldown; ties rotate so two
    idle targets take turns. In memory per process; no I/O, so it is safe on the hot path."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._in_flight: dict[str, int] = {}
        self._cooldown_until: dict[str, float] = {}
        self._turn = 0

    def in_flight(self, target: RouteTarget) -> int:
        return self._in_flight.get(target.key, 0)

    def in_cooldown(self, target: RouteTarget) -> bool:
        until = self._cooldown_until.get(target.key)
        if until is None:
            return False
        if self._clock() >= until:
            del self._cooldown_until[target.key]
            return False
        return True

    def acquire(self, targets: Sequence[RouteTarget], exclude: Collection[str] = ()) -> RouteTarget | None:
        candidates = [t for t in targets if t.key not in exclude and not self.in_cooldown(t)]
        if not candidates:
            return None
        scores = [self._in_flight.get(t.key, 0) / max(1, t.weight) for t in candidates]
        best = min(scores)
        tied = [t for t, s in zip(candidates, scores, strict=True) if s == best]
        chosen = tied[self._turn % len(tied)]
        self._turn += 1
        self._in_flight[chosen.key] = self._in_flight.get(chosen.key, 0) + 1
        return chosen

    def release(self, target: RouteTarget, ok: bool) -> None:
        count = self._in_flight.get(target.key, 0) - 1
        if count > 0:
            self._in_flight[target.key] = count
        else:
            self._in_flight.pop(target.key, None)
        if ok:
            self._cooldown_until.pop(target.key, None)

    def cooldown(self, target: RouteTarget, seconds: float) -> None:
        self._cooldown_until[target.key] = self._clock() + seconds


async def load_routing_table(*, session: AsyncSession) -> RoutingTable:
    """Read servers, present models, deployments and providers, and build the table."""
    from sqlalchemy import select

    from unillm.deployment.models import ModelDeployment
    from unillm.provider.models import LLMProvider
    from unillm.provider.service import effective_base_url
    from unillm.server.models import InstalledModel, ModelServer

    servers = list(await session.scalars(select(ModelServer)))
    models = list(await session.scalars(select(InstalledModel).where(InstalledModel.status == "present")))
    deployments = list(await session.scalars(select(ModelDeployment)))
    providers = [
        ProviderRoute(id=p.id, type=p.type, base_url=effective_base_url(p), enabled=p.enabled)
        for p in await session.scalars(select(LLMProvider))
    ]
    return RoutingTable.build(servers, models, deployments, providers)
