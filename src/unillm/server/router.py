"""`/api/v1/model-servers`: viewers read, admins change, sync, pull and delete. Each change is one
transaction holding the change, its audit row and the config-version bump."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from unillm.deps import AdminPrincipal, AuditContextDep, RuntimeDep, SessionDep, ViewerPrincipal
from unillm.server import service as server_service
from unillm.server.schemas import (
    HealthRead,
    InstalledModelRead,
    ModelServerCreate,
    ModelServerPage,
    ModelServerRead,
    ModelServerUpdate,
    PullRequest,
    ServerType,
    SyncSummary,
)

router = APIRouter(prefix="/api/v1/model-servers", tags=["model servers"])


@router.get("", summary="List model servers")
async def list_servers(
    session: SessionDep,
    _: ViewerPrincipal,
    limit: Annotated[int, Query(ge=1, le=server_service.MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    type: ServerType | None = None,
    enabled: bool | None = None,
) -> ModelServerPage:
    return await server_service.list_(session=session, limit=limit, cursor=cursor, type=type, enabled=enabled)


@router.post("", status_code=201, summary="Register a model server")
async def create_server(
    body: ModelServerCreate, session: SessionDep, context: AuditContextDep
) -> ModelServerRead:
    async with session.begin():
        return await server_service.create(session=session, context=context, data=body)


@router.post("/health-check-all", summary="Probe every enabled server now")
async def health_check_all(session: SessionDep, runtime: RuntimeDep, _: AdminPrincipal) -> list[HealthRead]:
    async with session.begin():
        return await server_service.check_all(session=session, http=server_service.http_client(runtime))


@router.get("/{server_id}", summary="One model server")
async def get_server(server_id: uuid.UUID, session: SessionDep, _: ViewerPrincipal) -> ModelServerRead:
    return server_service.to_read(await server_service.get_or_raise(session=session, server_id=server_id))


@router.patch("/{server_id}", summary="Change a model server")
async def update_server(
    server_id: uuid.UUID, body: ModelServerUpdate, session: SessionDep, context: AuditContextDep
) -> ModelServerRead:
    async with session.begin():
        return await server_service.update(session=session, context=context, server_id=server_id, data=body)


@router.delete("/{server_id}", status_code=204, summary="Remove a model server (and its models' records)")
async def delete_server(server_id: uuid.UUID, session: SessionDep, context: AuditContextDep) -> Response:
    async with session.begin():
        await server_service.delete(session=session, context=context, server_id=server_id)
    return Response(status_code=204)


@router.get("/{server_id}/models", summary="Models installed on the server (as last synced)")
async def list_models(
    server_id: uuid.UUID, session: SessionDep, _: ViewerPrincipal, include_gone: bool = False
) -> list[InstalledModelRead]:
    return await server_service.list_models(session=session, server_id=server_id, include_gone=include_gone)


@router.get("/{server_id}/health", summary="Probe the server now and store the result")
async def check_health(
    server_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, _: AdminPrincipal
) -> HealthRead:
    async with session.begin():
        return await server_service.check_health(
            session=session, server_id=server_id, http=server_service.http_client(runtime)
        )


@router.post("/{server_id}/sync", summary="Bring installed models in line with the server")
async def sync_server(
    server_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep, context: AuditContextDep
) -> SyncSummary:
    async with session.begin():
        return await server_service.sync(
            session=session, context=context, server_id=server_id, http=server_service.http_client(runtime)
        )


@router.post("/{server_id}/models/pull", summary="Pull a model; progress streams as NDJSON")
async def pull_model(
    server_id: uuid.UUID,
    body: PullRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    context: AuditContextDep,
) -> StreamingResponse:
    progress = await server_service.start_pull(
        session=session, server_id=server_id, model=body.model, http=server_service.http_client(runtime)
    )
    await session.close()
    lines = server_service.pull_lines(
        runtime=runtime, context=context, server_id=server_id, model=body.model, progress=progress
    )
    return StreamingResponse(lines, media_type="application/x-ndjson")


@router.delete(
    "/{server_id}/models/{model_name:path}", status_code=204, summary="Delete a model from the server"
)
async def delete_model(
    server_id: uuid.UUID, model_name: str, session: SessionDep, runtime: RuntimeDep, context: AuditContextDep
) -> Response:
    async with session.begin():
        await server_service.delete_model(
            session=session,
            context=context,
            server_id=server_id,
            model_name=model_name,
            http=server_service.http_client(runtime),
        )
    return Response(status_code=204)
