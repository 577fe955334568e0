"""`/api/v1/llm/providers`: viewers read, admins change and test. Each change is one transaction."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from unillm.deps import AdminPrincipal, AuditContextDep, RuntimeDep, SessionDep, ViewerPrincipal
from unillm.provider import service as provider_service
from unillm.provider import testing as provider_testing
from unillm.provider.schemas import (
    ProviderCreate,
    ProviderPage,
    ProviderRead,
    ProviderTestResult,
    ProviderType,
    ProviderUpdate,
)

router = APIRouter(prefix="/api/v1/llm/providers", tags=["providers"])


@router.get("", summary="List providers (credentials shown as hints only)")
async def list_providers(
    session: SessionDep, _: ViewerPrincipal,
    limit: Annotated[int, Query(ge=1, le=provider_service.MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    type: ProviderType | None = None,
    enabled: bool | None = None,
) -> ProviderPage:
    return await provider_service.list_(session=session, limit=limit, cursor=cursor, type=type,
                                        enabled=enabled)


@router.post("", status_code=201, summary="Add a provider; api_key is write-only")
async def create_provider(body: ProviderCreate, session: SessionDep, runtime: RuntimeDep,
                          context: AuditContextDep) -> ProviderRead:
    async with session.begin():
        return await provider_service.create(session=session, settings=runtime.settings, context=context,
                                             data=body)


@router.get("/{provider_id}", summary="One provider")
async def get_provider(provider_id: uuid.UUID, session: SessionDep, _: ViewerPrincipal) -> ProviderRead:
    provider = await provider_service.get_or_raise(session=session, provider_id=provider_id)
    return provider_service.to_read(provider)


@router.patch("/{provider_id}", summary="Change a provider; api_key null removes the credential")
async def update_provider(provider_id: uuid.UUID, body: ProviderUpdate, session: SessionDep,
                          runtime: RuntimeDep, context: AuditContextDep) -> ProviderRead:
    async with session.begin():
        return await provider_service.update(session=session, settings=runtime.settings, context=context,
                                             provider_id=provider_id, data=body)


@router.delete("/{provider_id}", status_code=204, summary="Remove a provider")
async def delete_provider(provider_id: uuid.UUID, session: SessionDep, context: AuditContextDep) -> Response:
    async with session.begin():
        await provider_service.delete(session=session, context=context, provider_id=provider_id)
    return Response(status_code=204)


@router.post("/{provider_id}/test", summary="List the provider's models with its stored credential")
async def test_provider(provider_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep,
                        _: AdminPrincipal) -> ProviderTestResult:
    async with session.begin():
        target = await provider_testing.load_probe_target(session=session, settings=runtime.settings,
                                                          provider_id=provider_id)
    return await provider_testing.probe(target)
