"""`/api/v1/access/tier-rules` and `/api/v1/access/permissions`: viewers read, admins change."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from unillm.access import rules_service
from unillm.access.rules_schemas import (
    FILTER_PATTERN,
    AccessType,
    PermissionCreate,
    PermissionPage,
    PermissionRead,
    TierRuleCreate,
    TierRulePage,
    TierRuleRead,
    TierRuleUpdate,
)
from unillm.deps import AuditContextDep, SessionDep, ViewerPrincipal

router = APIRouter(prefix="/api/v1/access", tags=["access"])

Limit = Annotated[int, Query(ge=1, le=rules_service.MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=20)]


@router.get("/tier-rules", summary="Tier rules, by tier then priority (highest first)")
async def list_tier_rules(
    session: SessionDep, _: ViewerPrincipal,
    tier_code: Annotated[str | None, Query(max_length=50, pattern=FILTER_PATTERN)] = None,
    limit: Limit = rules_service.MAX_PAGE, cursor: Cursor = None,
) -> TierRulePage:
    return await rules_service.list_tier_rules(session=session, tier_code=tier_code, limit=limit,
                                               cursor=cursor)


@router.post("/tier-rules", status_code=201, summary="Add a tier rule")
async def create_tier_rule(body: TierRuleCreate, session: SessionDep,
                           context: AuditContextDep) -> TierRuleRead:
    async with session.begin():
        return await rules_service.create_tier_rule(session=session, context=context, data=body)


@router.patch("/tier-rules/{rule_id}", summary="Change a tier rule")
async def update_tier_rule(rule_id: uuid.UUID, body: TierRuleUpdate, session: SessionDep,
                           context: AuditContextDep) -> TierRuleRead:
    async with session.begin():
        return await rules_service.update_tier_rule(session=session, context=context, rule_id=rule_id,
                                                    data=body)


@router.delete("/tier-rules/{rule_id}", status_code=204, summary="Remove a tier rule")
async def delete_tier_rule(rule_id: uuid.UUID, session: SessionDep, context: AuditContextDep) -> Response:
    async with session.begin():
        await rules_service.delete_tier_rule(session=session, context=context, rule_id=rule_id)
    return Response(status_code=204)


@router.get("/permissions", summary="Explicit model permissions")
async def list_permissions(
    session: SessionDep, _: ViewerPrincipal,
    model_id: Annotated[str | None, Query(max_length=255, pattern=FILTER_PATTERN)] = None,
    access_type: AccessType | None = None,
    access_value: Annotated[str | None, Query(max_length=255, pattern=FILTER_PATTERN)] = None,
    limit: Limit = rules_service.MAX_PAGE, cursor: Cursor = None,
) -> PermissionPage:
    return await rules_service.list_permissions(session=session, model_id=model_id, access_type=access_type,
                                                access_value=access_value, limit=limit, cursor=cursor)


@router.post("/permissions", status_code=201, summary="Grant or deny a model to a user, role, tier or agent")
async def create_permission(body: PermissionCreate, session: SessionDep,
                            context: AuditContextDep) -> PermissionRead:
    async with session.begin():
        return await rules_service.create_permission(session=session, context=context, data=body)


@router.delete("/permissions/{permission_id}", status_code=204, summary="Remove a permission")
async def delete_permission(permission_id: uuid.UUID, session: SessionDep,
                            context: AuditContextDep) -> Response:
    async with session.begin():
        await rules_service.delete_permission(session=session, context=context, permission_id=permission_id)
    return Response(status_code=204)
