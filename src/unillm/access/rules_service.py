"""Tier rules and model permissions: the administrative CRUD behind the access decisions.

Callers own the transaction (routers wrap each call in `session.begin()`), so a change, its audit
row and the config-version bump (which makes every gateway reload its snapshot) commit together.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.access.models import ModelPermission, TierModelRule
from unillm.access.rules_schemas import (
    PermissionCreate,
    PermissionPage,
    PermissionRead,
    TierRuleCreate,
    TierRulePage,
    TierRuleRead,
    TierRuleUpdate,
)
from unillm.audit import service as audit_service
from unillm.audit.schemas import AuditContext
from unillm.errors import BadRequest, Conflict, NotFound
from unillm.pagination import fetch_offset_page, parse_offset_cursor

MAX_PAGE = 500
RULE_COLUMNS = ("tier_code", "model_pattern", "allowed", "max_requests_per_day", "max_context_length",
                "priority")




def _page_bounds(limit: int, cursor: str | None) -> tuple[int, int]:
    return parse_offset_cursor(cursor), max(1, min(limit, MAX_PAGE))


def rule_view(rule: TierModelRule) -> dict[str, Any]:
    return {"id": str(rule.id), **{column: getattr(rule, column) for column in RULE_COLUMNS}}


def permission_view(permission: ModelPermission) -> dict[str, Any]:
    return {"id": str(permission.id), "model_id": permission.model_id,
            "access_type": permission.access_type, "access_value": permission.access_value,
            "allowed": permission.allowed}


async def _flush_or_conflict(session: AsyncSession, message: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent writer won the race past the pre-check
        raise Conflict(message) from exc


# --- tier rules ---------------------------------------------------------------------------------

def _rule_conflict(tier_code: str, pattern: str) -> str:
    return f"tier {tier_code!r} already has a rule for pattern {pattern!r}; change that one instead"


async def _ensure_rule_unique(session: AsyncSession, tier_code: str, pattern: str,
                              exclude: uuid.UUID | None = None) -> None:
    query = select(func.count()).select_from(TierModelRule).where(
        TierModelRule.tier_code == tier_code, TierModelRule.model_pattern == pattern)
    if exclude is not None:
        query = query.where(TierModelRule.id != exclude)
    if await session.scalar(query):
        raise Conflict(_rule_conflict(tier_code, pattern))


async def list_tier_rules(*, session: AsyncSession, tier_code: str | None = None, limit: int = MAX_PAGE,
                          cursor: str | None = None) -> TierRulePage:
    offset, limit = _page_bounds(limit, cursor)
    query = select(TierModelRule).order_by(TierModelRule.tier_code, TierModelRule.priority.desc(),
                                           TierModelRule.model_pattern, TierModelRule.id)
    if tier_code is not None:
        query = query.where(TierModelRule.tier_code == tier_code)
    rows, next_cursor = await fetch_offset_page(session, query, offset=offset, limit=limit)
    return TierRulePage(items=[TierRuleRead.model_validate(row) for row in rows], next_cursor=next_cursor)


async def get_tier_rule_or_raise(*, session: AsyncSession, rule_id: uuid.UUID) -> TierModelRule:
    rule = await session.get(TierModelRule, rule_id)
    if rule is None:
        raise NotFound(f"tier rule {rule_id} not found")
    return rule


async def create_tier_rule(*, session: AsyncSession, context: AuditContext,
                           data: TierRuleCreate) -> TierRuleRead:
    await _ensure_rule_unique(session, data.tier_code, data.model_pattern)
    rule = TierModelRule(id=uuid.uuid4(), **data.model_dump())
    session.add(rule)
    await _flush_or_conflict(session, _rule_conflict(data.tier_code, data.model_pattern))
    await audit_service.record(session=session, context=context, action_type="tier_rule_added",
                               resource_type="tier_rule", resource_id=str(rule.id), before=None,
                               after=rule_view(rule))
    return TierRuleRead.model_validate(rule)


async def update_tier_rule(*, session: AsyncSession, context: AuditContext, rule_id: uuid.UUID,
                           data: TierRuleUpdate) -> TierRuleRead:
    rule = await get_tier_rule_or_raise(session=session, rule_id=rule_id)
    before = rule_view(rule)
    changes = data.model_dump(exclude_unset=True)
    for column in ("tier_code", "model_pattern", "allowed", "priority"):
        if column in changes and changes[column] is None:
            raise BadRequest(f"{column} cannot be null", param=column)
    tier_code = changes.get("tier_code", rule.tier_code)
    pattern = changes.get("model_pattern", rule.model_pattern)
    if (tier_code, pattern) != (rule.tier_code, rule.model_pattern):
        await _ensure_rule_unique(session, tier_code, pattern, exclude=rule.id)
    for column, value in changes.items():
        setattr(rule, column, value)
    await _flush_or_conflict(session, _rule_conflict(tier_code, pattern))
    await session.refresh(rule)
    await audit_service.record(session=session, context=context, action_type="tier_rule_updated",
                               resource_type="tier_rule", resource_id=str(rule.id), before=before,
                               after=rule_view(rule))
    return TierRuleRead.model_validate(rule)


async def delete_tier_rule(*, session: AsyncSession, context: AuditContext, rule_id: uuid.UUID) -> None:
    rule = await get_tier_rule_or_raise(session=session, rule_id=rule_id)
    before = rule_view(rule)
    await session.delete(rule)
    await session.flush()
    await audit_service.record(session=session, context=context, action_type="tier_rule_removed",
                               resource_type="tier_rule", resource_id=str(rule_id), before=before,
                               after=None)


# --- permissions --------------------------------------------------------------------------------

def _permission_conflict(data: PermissionCreate) -> str:
    return (f"a permission for {data.access_type} {data.access_value!r} on {data.model_id!r} already "
            "exists; delete it first to change it")


async def list_permissions(*, session: AsyncSession, model_id: str | None = None,
                           access_type: str | None = None, access_value: str | None = None,
                           limit: int = MAX_PAGE, cursor: str | None = None) -> PermissionPage:
    offset, limit = _page_bounds(limit, cursor)
    query = select(ModelPermission).order_by(ModelPermission.model_id, ModelPermission.access_type,
                                             ModelPermission.access_value, ModelPermission.id)
    if model_id is not None:
        query = query.where(ModelPermission.model_id == model_id)
    if access_type is not None:
        query = query.where(ModelPermission.access_type == access_type)
    if access_value is not None:
        query = query.where(ModelPermission.access_value == access_value)
    rows, next_cursor = await fetch_offset_page(session, query, offset=offset, limit=limit)
    return PermissionPage(items=[PermissionRead.model_validate(row) for row in rows],
                          next_cursor=next_cursor)


async def create_permission(*, session: AsyncSession, context: AuditContext,
                            data: PermissionCreate) -> PermissionRead:
    existing = await session.scalar(select(func.count()).select_from(ModelPermission).where(
        ModelPermission.model_id == data.model_id, ModelPermission.access_type == data.access_type,
        ModelPermission.access_value == data.access_value))
    if existing:
        raise Conflict(_permission_conflict(data))
    permission = ModelPermission(id=uuid.uuid4(), created_by=context.actor, **data.model_dump())
    session.add(permission)
    await _flush_or_conflict(session, _permission_conflict(data))
    await audit_service.record(session=session, context=context, action_type="permission_added",
                               resource_type="permission", resource_id=str(permission.id), before=None,
                               after=permission_view(permission))
    return PermissionRead.model_validate(permission)


async def delete_permission(*, session: AsyncSession, context: AuditContext,
                            permission_id: uuid.UUID) -> None:
    permission = await session.get(ModelPermission, permission_id)
    if permission is None:
        raise NotFound(f"permission {permission_id} not found")
    before = permission_view(permission)
    await session.delete(permission)
    await session.flush()
    await audit_service.record(session=session, context=context, action_type="permission_removed",
                               resource_type="permission", resource_id=str(permission_id), before=before,
                               after=None)
