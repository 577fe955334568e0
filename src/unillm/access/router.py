"""`GET /api/v1/access/check`: explain whether a tier or a user may use a model (viewer or admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from unillm.access import check_service
from unillm.access.check_service import AccessCheckRead
from unillm.access.quota import COMPONENT, create_counter
from unillm.deps import RuntimeDep, SessionDep, ViewerPrincipal

router = APIRouter(prefix="/api/v1/access", tags=["access"])


@router.get("/check", response_model=AccessCheckRead)
async def check_access(
    _principal: ViewerPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    model: Annotated[str, Query(description="a canonical model id, e.g. openai/gpt-4o")],
    tier: Annotated[str | None, Query(description="decide for this tier")] = None,
    user: Annotated[str | None, Query(description="decide for this user (with today's quota)")] = None,
) -> AccessCheckRead:
    counter = runtime.components.get(COMPONENT)
    owned = counter is None
    if counter is None:
        counter = create_counter(runtime.settings, runtime.engine)
    try:
        return await check_service.check(session=session, model=model, tier=tier, user=user, counter=counter,
                                         quota_timezone=runtime.settings.quota_timezone)
    finally:
        if owned:
            await counter.aclose()
