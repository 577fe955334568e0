"""`/api/v1/deployments`: viewers read, admins create, change, start, stop and delete. Each change
commits with its audit row, then the reconciler makes the server match and the answer shows the
resulting status."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from unillm.deployment import reconcile
from unillm.deployment import service as deployment_service
from unillm.deployment.schemas import DeploymentCreate, DeploymentPage, DeploymentRead, DeploymentUpdate
from unillm.deps import AuditContextDep, RuntimeDep, SessionDep, ViewerPrincipal
from unillm.runtime import Runtime

router = APIRouter(prefix="/api/v1/deployments", tags=["deployments"])


async def _settle(runtime: Runtime, deployment_id: uuid.UUID) -> DeploymentRead:
    return await reconcile.reconcile_deployment(runtime=runtime, deployment_id=deployment_id)


@router.get("", summary="List deployments")
async def list_deployments(
    session: SessionDep,
    _: ViewerPrincipal,
    limit: Annotated[int, Query(ge=1, le=deployment_service.MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    server_id: uuid.UUID | None = None,
    status: str | None = None,
) -> DeploymentPage:
    return await deployment_service.list_(
        session=session, limit=limit, cursor=cursor, server_id=server_id, status=status
    )


@router.post("", status_code=201, summary="Deploy an installed model (loads it where the server allows)")
async def create_deployment(
    body: DeploymentCreate, session: SessionDep, runtime: RuntimeDep, context: AuditContextDep
) -> DeploymentRead:
    async with session.begin():
        created = await deployment_service.create(session=session, context=context, data=body)
    return await _settle(runtime, created.id)


@router.get("/{deployment_id}", summary="One deployment")
async def get_deployment(deployment_id: uuid.UUID, session: SessionDep, _: ViewerPrincipal) -> DeploymentRead:
    return await deployment_service.get(session=session, deployment_id=deployment_id)


@router.patch("/{deployment_id}", summary="Change a deployment")
async def update_deployment(
    deployment_id: uuid.UUID,
    body: DeploymentUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    context: AuditContextDep,
) -> DeploymentRead:
    async with session.begin():
        await deployment_service.update(
            session=session, context=context, deployment_id=deployment_id, data=body
        )
    return await _settle(runtime, deployment_id)


@router.post("/{deployment_id}/start", summary="Ask for the deployment to run")
async def start_deployment(
    deployment_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, context: AuditContextDep
) -> DeploymentRead:
    async with session.begin():
        await deployment_service.set_desired(
            session=session, context=context, deployment_id=deployment_id, desired="running"
        )
    return await _settle(runtime, deployment_id)


@router.post("/{deployment_id}/stop", summary="Ask for the deployment to stop (unloads where possible)")
async def stop_deployment(
    deployment_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, context: AuditContextDep
) -> DeploymentRead:
    async with session.begin():
        await deployment_service.set_desired(
            session=session, context=context, deployment_id=deployment_id, desired="stopped"
        )
    return await _settle(runtime, deployment_id)


@router.delete("/{deployment_id}", status_code=204, summary="Remove a deployment")
async def delete_deployment(
    deployment_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, context: AuditContextDep
) -> Response:
    async with session.begin():
        removed = await deployment_service.delete(
            session=session, context=context, deployment_id=deployment_id
        )
    await reconcile.release(runtime=runtime, server_id=removed.server_id, model_name=removed.model_name)
    return Response(status_code=204)
