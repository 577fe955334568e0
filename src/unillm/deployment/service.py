"""Model deployments: CRUD and the operator's start/stop wishes (`desired_status`). The real status
follows the server and is written by `deployment.reconcile`. Callers own the transaction, so a change,
its audit row and the config-version bump commit together."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.audit import service as audit_service
from unillm.audit.schemas import AuditContext
from unillm.deployment.models import ModelDeployment
from unillm.deployment.schemas import DeploymentCreate, DeploymentPage, DeploymentRead, DeploymentUpdate
from unillm.errors import BadRequest, Conflict, NotFound
from unillm.server.models import InstalledModel, ModelServer

RESOURCE = "deployment"
MAX_PAGE = 500


def to_read(d: ModelDeployment, server: ModelServer, model: InstalledModel) -> DeploymentRead:
    return DeploymentRead(
        id=d.id,
        server_id=d.server_id,
        server_name=server.name,
        model_id=d.model_id,
        model_name=model.model_name,
        canonical_model=f"{server.type}/{model.model_name}",
        alias=d.alias,
        status=d.status,
        desired_status=d.desired_status,
        context_length=d.context_length,
        gpu_layers=d.gpu_layers,
        batch_size=d.batch_size,
        vram_usage_mb=d.vram_usage_mb,
        tokens_per_sec=d.tokens_per_sec,
        weight=d.weight,
        error_message=d.error_message,
        started_at=d.started_at,
        stopped_at=d.stopped_at,
        created_at=d.created_at,
        metadata=dict(d.metadata_ or {}),
    )


def audit_view(d: ModelDeployment) -> dict[str, Any]:
    return {
        "id": str(d.id),
        "server_id": str(d.server_id),
        "model_id": str(d.model_id),
        "alias": d.alias,
        "desired_status": d.desired_status,
        "context_length": d.context_length,
        "gpu_layers": d.gpu_layers,
        "batch_size": d.batch_size,
        "weight": d.weight,
        "metadata": dict(d.metadata_ or {}),
    }


async def _read(session: AsyncSession, d: ModelDeployment) -> DeploymentRead:
    server = await session.get(ModelServer, d.server_id)
    model = await session.get(InstalledModel, d.model_id)
    assert server is not None and model is not None  # foreign keys with ON DELETE CASCADE
    return to_read(d, server, model)


async def list_(
    *,
    session: AsyncSession,
    limit: int = 100,
    cursor: str | None = None,
    server_id: uuid.UUID | None = None,
    status: str | None = None,
) -> DeploymentPage:
    if cursor and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 9):
        raise BadRequest("cursor is not one this API returned", param="cursor")
    offset = int(cursor) if cursor else 0
    limit = max(1, min(limit, MAX_PAGE))
    query = (
        select(ModelDeployment, ModelServer, InstalledModel)
        .join(ModelServer, ModelServer.id == ModelDeployment.server_id)
        .join(InstalledModel, InstalledModel.id == ModelDeployment.model_id)
        .order_by(ModelDeployment.created_at, ModelDeployment.id)
    )
    if server_id is not None:
        query = query.where(ModelDeployment.server_id == server_id)
    if status is not None:
        query = query.where(ModelDeployment.status == status)
    rows = list((await session.execute(query.offset(offset).limit(limit + 1))).all())
    items = [to_read(d, s, m) for d, s, m in rows[:limit]]
    return DeploymentPage(items=items, next_cursor=str(offset + limit) if len(rows) > limit else None)


async def get_or_raise(*, session: AsyncSession, deployment_id: uuid.UUID) -> ModelDeployment:
    deployment = await session.get(ModelDeployment, deployment_id)
    if deployment is None:
        raise NotFound(f"no deployment with id {deployment_id}")
    return deployment


async def get(*, session: AsyncSession, deployment_id: uuid.UUID) -> DeploymentRead:
    return await _read(session, await get_or_raise(session=session, deployment_id=deployment_id))


async def _installed(session: AsyncSession, server: ModelServer, data: DeploymentCreate) -> InstalledModel:
    if data.model_id is not None:
        model = await session.get(InstalledModel, data.model_id)
        if model is None or model.server_id != server.id:
            raise BadRequest(
                f"installed model {data.model_id} is not on server {server.name!r}", param="model_id"
            )
    else:
        model = await session.scalar(
            select(InstalledModel).where(
                InstalledModel.server_id == server.id, InstalledModel.model_name == data.model_name
            )
        )
        if model is None:
            raise BadRequest(
                f"{data.model_name!r} is not installed on server {server.name!r}; pull or sync it "
                "first (`unillm models list` shows what is there)",
                param="model_name",
            )
    if model.status != "present":
        raise BadRequest(
            f"{model.model_name!r} is gone from server {server.name!r}; sync after reinstalling it"
        )
    return model


async def _check_alias(
    session: AsyncSession,
    alias: str | None,
    server: ModelServer,
    model: InstalledModel,
    exclude: uuid.UUID | None = None,
) -> None:
    """One alias names one canonical model everywhere (it may span servers, for load spreading)."""
    if alias is None:
        return
    query = (
        select(ModelDeployment, ModelServer, InstalledModel)
        .join(ModelServer, ModelServer.id == ModelDeployment.server_id)
        .join(InstalledModel, InstalledModel.id == ModelDeployment.model_id)
        .where(ModelDeployment.alias == alias)
    )
    canonical = f"{server.type}/{model.model_name}"
    for other, other_server, other_model in (await session.execute(query)).all():
        if other.id == exclude:
            continue
        if other.server_id == server.id:
            raise Conflict(
                f"alias {alias!r} is already used on server {server.name!r} (deployment {other.id})"
            )
        if f"{other_server.type}/{other_model.model_name}" != canonical:
            raise Conflict(
                f"alias {alias!r} already names {other_server.type}/{other_model.model_name}; "
                "an alias must resolve to one model"
            )


async def create(*, session: AsyncSession, context: AuditContext, data: DeploymentCreate) -> DeploymentRead:
    server = await session.get(ModelServer, data.server_id)
    if server is None:
        raise NotFound(f"no model server with id {data.server_id}")
    model = await _installed(session, server, data)
    await _check_alias(session, data.alias, server, model)
    deployment = ModelDeployment(
        server_id=server.id,
        model_id=model.id,
        alias=data.alias,
        desired_status=data.desired_status,
        status="loading" if data.desired_status == "running" else "stopped",
        context_length=data.context_length,
        gpu_layers=data.gpu_layers,
        batch_size=data.batch_size,
        weight=data.weight,
        metadata_=dict(data.metadata),
    )
    session.add(deployment)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"alias {data.alias!r} is already used on server {server.name!r}") from exc
    await audit_service.record(
        session=session,
        context=context,
        action_type="model_deployed",
        resource_type=RESOURCE,
        resource_id=str(deployment.id),
        before=None,
        after=audit_view(deployment),
    )
    return to_read(deployment, server, model)


async def update(
    *, session: AsyncSession, context: AuditContext, deployment_id: uuid.UUID, data: DeploymentUpdate
) -> DeploymentRead:
    deployment = await get_or_raise(session=session, deployment_id=deployment_id)
    before = audit_view(deployment)
    changes = data.model_dump(exclude_unset=True)
    for key in ("desired_status", "context_length", "weight"):
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null", param=key)
    server = await session.get(ModelServer, deployment.server_id)
    model = await session.get(InstalledModel, deployment.model_id)
    assert server is not None and model is not None
    if changes.get("alias") is not None:
        await _check_alias(session, changes["alias"], server, model, exclude=deployment.id)
    for key, value in changes.items():
        if key == "metadata":
            deployment.metadata_ = dict(value or {})
        else:
            setattr(deployment, key, value)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"alias {changes.get('alias')!r} is already used on server {server.name!r}") from exc
    action = (
        {"running": "deployment_started", "stopped": "deployment_stopped"}.get(
            changes.get("desired_status", ""), "deployment_updated"
        )
        if set(changes) == {"desired_status"}
        else ("deployment_updated")
    )
    await audit_service.record(
        session=session,
        context=context,
        action_type=action,
        resource_type=RESOURCE,
        resource_id=str(deployment.id),
        before=before,
        after=audit_view(deployment),
    )
    return to_read(deployment, server, model)


async def set_desired(
    *, session: AsyncSession, context: AuditContext, deployment_id: uuid.UUID, desired: str
) -> DeploymentRead:
    """Start or stop: record the wish; the reconciler makes the server match it."""
    return await update(
        session=session,
        context=context,
        deployment_id=deployment_id,
        data=DeploymentUpdate(desired_status=desired),
    )


async def delete(*, session: AsyncSession, context: AuditContext, deployment_id: uuid.UUID) -> DeploymentRead:
    deployment = await get_or_raise(session=session, deployment_id=deployment_id)
    read = await _read(session, deployment)
    before = audit_view(deployment)
    await session.delete(deployment)
    await session.flush()
    await audit_service.record(
        session=session,
        context=context,
        action_type="deployment_removed",
        resource_type=RESOURCE,
        resource_id=str(deployment_id),
        before=before,
        after=None,
    )
    return read
