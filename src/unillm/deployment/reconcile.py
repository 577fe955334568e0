"""Make deployments follow the servers: observe what each server holds in memory (Ollama's /api/ps,
LM Studio's model states, what vLLM and llama.cpp serve), load or unload where the server allows it
(Ollama: `keep_alive` -1 / 0; LM Studio: its load/unload API), and write the status that results.

vLLM and llama.cpp serve one model per process, so their deployments are only observed: running
while the server serves that model, error otherwise. Status writes are observations, not admin
changes: no audit row, but a status change bumps the config version so routes follow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from unillm.db.config_version import bump_config_version
from unillm.db.types import utcnow
from unillm.deployment.models import ModelDeployment
from unillm.deployment.schemas import DeploymentRead
from unillm.errors import UpstreamError
from unillm.runtime import Runtime
from unillm.server import service as server_service
from unillm.server.adapters import ServerAdapter
from unillm.server.models import InstalledModel, ModelServer

MANAGED_TYPES = frozenset({"ollama", "lmstudio"})  # can load and unload on request


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    error: str | None = None


def same_model(server_type: str, a: str, b: str) -> bool:
    """Ollama reports `llama3` as `llama3:latest`."""
    if server_type == "ollama":
        return (a if ":" in a else f"{a}:latest") == (b if ":" in b else f"{b}:latest")
    return a == b


def _holds(server_type: str, loaded: list[str], model: str) -> bool:
    return any(same_model(server_type, name, model) for name in loaded)


async def drive(adapter: ServerAdapter, model: str, desired: str) -> Outcome:
    """Observe, act if the server type allows it, observe again; never raises for upstream failures."""
    kind = adapter.server_type
    try:
        loaded = await adapter.loaded_models()
        if desired == "running":
            if _holds(kind, loaded, model):
                return Outcome("running")
            if kind not in MANAGED_TYPES:
                serving = ", ".join(loaded) or "no model"
                return Outcome(
                    "error",
                    f"the {kind} server serves {serving}, not {model}; it runs one "
                    "model per process, so restart it with this model",
                )
            await adapter.load(model, keep_alive=-1)
            loaded = await adapter.loaded_models()
            return Outcome("running") if _holds(kind, loaded, model) else Outcome("loading")
        if _holds(kind, loaded, model) and kind in MANAGED_TYPES:
            await adapter.unload(model)
            loaded = await adapter.loaded_models()
            if _holds(kind, loaded, model):
                return Outcome("error", f"{model} is still loaded after the unload request")
        return Outcome("stopped")
    except UpstreamError as exc:
        if desired == "stopped":
            return Outcome("stopped", f"could not confirm the unload: {exc.message}")
        return Outcome("error", exc.message)


def apply_outcome(deployment: ModelDeployment, outcome: Outcome) -> bool:
    """Write an outcome; True when the status changed (routes depend on it)."""
    now = utcnow()
    changed = deployment.status != outcome.status
    if changed and outcome.status == "running":
        deployment.started_at = now
    if changed and outcome.status == "stopped":
        deployment.stopped_at = now
    deployment.status = outcome.status
    deployment.error_message = outcome.error[:1000] if outcome.error else None
    return changed


@dataclass(frozen=True, slots=True)
class _Work:
    deployment_id: uuid.UUID
    server: ModelServer
    model_name: str
    desired: str


async def _collect(runtime: Runtime, deployment_id: uuid.UUID | None) -> list[_Work]:
    async with runtime.sessions() as session:
        query = (
            select(ModelDeployment, ModelServer, InstalledModel.model_name)
            .join(ModelServer, ModelServer.id == ModelDeployment.server_id)
            .join(InstalledModel, InstalledModel.id == ModelDeployment.model_id)
        )
        if deployment_id is not None:
            query = query.where(ModelDeployment.id == deployment_id)
        else:
            query = query.where(ModelServer.enabled.is_(True))
        rows = (await session.execute(query)).all()
        return [_Work(d.id, s, name, d.desired_status) for d, s, name in rows]


async def _run(runtime: Runtime, work: list[_Work]) -> None:
    http = server_service.http_client(runtime)
    outcomes = [
        (item, await drive(server_service.adapter(item.server, http), item.model_name, item.desired))
        for item in work
    ]
    async with runtime.sessions() as session, session.begin():
        changed = False
        for item, outcome in outcomes:
            deployment = await session.get(ModelDeployment, item.deployment_id)
            if deployment is not None and deployment.desired_status == item.desired:
                changed = apply_outcome(deployment, outcome) or changed
        if changed:
            await bump_config_version(session=session)


async def reconcile_deployment(*, runtime: Runtime, deployment_id: uuid.UUID) -> DeploymentRead:
    """Bring one deployment in line now (after create, start or stop) and return it."""
    from unillm.deployment import service as deployment_service

    await _run(runtime, await _collect(runtime, deployment_id))
    async with runtime.sessions() as session:
        return await deployment_service.get(session=session, deployment_id=deployment_id)


async def reconcile_all(*, runtime: Runtime) -> int:
    """Correct drift on every enabled server (a model unloaded behind our back is loaded again)."""
    work = await _collect(runtime, None)
    if work:
        await _run(runtime, work)
    return len(work)


async def release(*, runtime: Runtime, server_id: uuid.UUID, model_name: str) -> Outcome | None:
    """After a deployment is removed: unload its model unless another deployment still wants it."""
    async with runtime.sessions() as session:
        server = await session.get(ModelServer, server_id)
        wanted = await session.scalar(
            select(ModelDeployment.id)
            .join(InstalledModel, InstalledModel.id == ModelDeployment.model_id)
            .where(
                ModelDeployment.server_id == server_id,
                InstalledModel.model_name == model_name,
                ModelDeployment.desired_status == "running",
            )
            .limit(1)
        )
    if server is None or wanted is not None or server.type not in MANAGED_TYPES:
        return None
    return await drive(
        server_service.adapter(server, server_service.http_client(runtime)), model_name, "stopped"
    )
