"""`/api/v1/pricing` and `/api/v1/usage/*`: viewers read, admins change prices."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from unillm.deps import AuditContextDep, RuntimeDep, SessionDep, ViewerPrincipal
from unillm.usage import reports
from unillm.usage import service as usage_service
from unillm.usage.schemas import (
    FILTER_PATTERN,
    GroupBy,
    LoadDefaultsResult,
    PricingRead,
    PricingUpsert,
    UsageFilters,
    UsageLogPage,
    UsageStatus,
    UsageSummary,
)

router = APIRouter(tags=["usage"])

Text = Annotated[str | None, Query(max_length=255, pattern=FILTER_PATTERN)]


@router.get("/api/v1/pricing", summary="Every model's price (USD per 1,000 tokens)")
async def list_pricing(session: SessionDep, _: ViewerPrincipal, provider: Text = None) -> list[PricingRead]:
    return await usage_service.list_(session=session, provider=provider)


@router.post("/api/v1/pricing/load-defaults", summary="Add the bundled prices of models that have none")
async def load_default_pricing(session: SessionDep, context: AuditContextDep) -> LoadDefaultsResult:
    async with session.begin():
        return await usage_service.load_defaults(session=session, context=context)


@router.get("/api/v1/pricing/{model_id:path}", summary="One model's price")
async def get_pricing(model_id: str, session: SessionDep, _: ViewerPrincipal) -> PricingRead:
    return await usage_service.get_or_raise(session=session, model_id=model_id)


@router.put("/api/v1/pricing/{model_id:path}", summary="Set a model's price (creates or replaces)")
async def put_pricing(model_id: str, body: PricingUpsert, session: SessionDep,
                      context: AuditContextDep) -> PricingRead:
    _check_model_id(model_id)
    async with session.begin():
        return await usage_service.upsert(session=session, context=context, model_id=model_id, data=body)


@router.delete("/api/v1/pricing/{model_id:path}", status_code=204, summary="Remove a model's price")
async def delete_pricing(model_id: str, session: SessionDep, context: AuditContextDep) -> Response:
    async with session.begin():
        await usage_service.delete(session=session, context=context, model_id=model_id)
    return Response(status_code=204)


def _check_model_id(model_id: str) -> None:
    from unillm.errors import BadRequest

    if not model_id or len(model_id) > 255 or any(ord(ch) < 32 or ord(ch) == 127 for ch in model_id):
        raise BadRequest("model id must be 1-255 printable characters", param="model_id")


def _filters(user_id: str | None, model_id: str | None, provider: str | None, status: UsageStatus | None,
             source: str | None, since: datetime | None, until: datetime | None) -> UsageFilters:
    return UsageFilters(user_id=user_id, model_id=model_id, provider=provider, status=status,
                        source=source, since=since, until=until)


@router.get("/api/v1/usage/logs", summary="Usage rows, newest first (cursor-paginated)")
async def list_usage_logs(
    session: SessionDep, _: ViewerPrincipal, user_id: Text = None, model_id: Text = None,
    provider: Text = None, status: UsageStatus | None = None, source: Text = None,
    since: datetime | None = None, until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=reports.MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> UsageLogPage:
    filters = _filters(user_id, model_id, provider, status, source, since, until)
    return await reports.list_logs(session=session, filters=filters, limit=limit, cursor=cursor)


@router.get("/api/v1/usage/summary", summary="Cost, requests, tokens and unpriced requests per group")
async def usage_summary(
    session: SessionDep, runtime: RuntimeDep, _: ViewerPrincipal,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None, group_by: GroupBy = "day",
) -> UsageSummary:
    return await reports.summary(session=session, start=from_, end=to, group_by=group_by,
                                 tz=ZoneInfo(runtime.settings.quota_timezone))


@router.get("/api/v1/usage/export.csv", summary="Usage rows as CSV (streamed)",
            response_class=StreamingResponse)
async def export_usage_csv(
    runtime: RuntimeDep, _: ViewerPrincipal, user_id: Text = None, model_id: Text = None,
    provider: Text = None, status: UsageStatus | None = None, source: Text = None,
    since: datetime | None = None, until: datetime | None = None,
) -> StreamingResponse:
    filters = _filters(user_id, model_id, provider, status, source, since, until)
    reports.check_filters(filters)
    return StreamingResponse(reports.export_csv(sessions=runtime.sessions, filters=filters),
                             media_type="text/csv",
                             headers={"content-disposition": 'attachment; filename="usage.csv"'})


@router.get("/api/v1/usage/billing", summary="One user's billing statement for a month",
            response_class=StreamingResponse)
async def billing_statement(
    runtime: RuntimeDep, _: ViewerPrincipal,
    user: Annotated[str, Query(min_length=1, max_length=255, pattern=FILTER_PATTERN)],
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")],
    format: Literal["json", "csv"] = "json",
) -> StreamingResponse:
    tz = ZoneInfo(runtime.settings.quota_timezone)
    reports.month_bounds(month, tz)  # a bad month is a 400 before the stream starts
    if format == "csv":
        return StreamingResponse(
            reports.statement_csv(sessions=runtime.sessions, user=user, month=month, tz=tz),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="billing-{month}.csv"'})
    return StreamingResponse(reports.statement_json(sessions=runtime.sessions, user=user, month=month, tz=tz),
                             media_type="application/json")
