"""`/api/v1/audit`: read the audit log (viewers and admins) and verify its hash chain. No writes here:
rows are only ever appended by the services that make changes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from unillm.audit import service as audit_service
from unillm.audit.schemas import AuditLogRead
from unillm.deps import SessionDep, ViewerPrincipal

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditPage(BaseModel):
    items: list[AuditLogRead]
    next_cursor: str | None


class AuditVerifyRead(BaseModel):
    ok: bool
    rows_checked: int
    first_bad_id: int | None
    reason: str | None


@router.get("", summary="Audit rows, newest first (filters, cursor pagination)")
async def list_audit(
    session: SessionDep, _: ViewerPrincipal,
    actor: Annotated[str | None, Query(max_length=255, description="The acting user id.")] = None,
    user_id: Annotated[str | None, Query(max_length=255, description="Same as actor.")] = None,
    resource_type: Annotated[str | None, Query(max_length=100)] = None,
    resource_id: Annotated[str | None, Query(max_length=255)] = None,
    action_type: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[datetime | None, Query(description="Rows at or after this time (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Rows before this time (ISO 8601).")] = None,
    limit: Annotated[int, Query(ge=1, le=audit_service.MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> AuditPage:
    items, next_cursor = await audit_service.query(
        session=session, actor=actor or user_id, resource_type=resource_type, resource_id=resource_id,
        action_type=action_type, since=_aware(since), until=_aware(until), limit=limit, cursor=cursor,
    )
    return AuditPage(items=items, next_cursor=next_cursor)


@router.get("/verify", summary="Recompute the hash chain; names the first tampered row")
async def verify_audit(session: SessionDep, _: ViewerPrincipal) -> AuditVerifyRead:
    result = await audit_service.verify(session=session)
    return AuditVerifyRead(ok=result.ok, rows_checked=result.rows_checked,
                           first_bad_id=result.first_bad_id, reason=result.reason)


def _aware(value: datetime | None) -> datetime | None:
    """A time without an offset is taken as UTC (the columns are UTC; naive values are refused)."""
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
