"""The first half of the pipeline: authenticate, resolve the model, decide access, check the context
size and reserve a unit of the daily quota. Everything here reads the in-memory snapshot; the quota
reservation is the only I/O."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from unillm.access.context_limit import check_context
from unillm.access.policy import Decision, Subject
from unillm.access.quota.days import quota_day, seconds_until_reset
from unillm.auth import service as auth_service
from unillm.auth.principal import Principal
from unillm.deployment.routing import RouteTarget
from unillm.errors import (
    BadRequest,
    CounterStoreUnavailable,
    ModelNotAllowed,
    ModelNotFound,
    QuotaExceeded,
)
from unillm.gateway.state import GatewayState
from unillm.runtime import Runtime

MAX_SOURCE_LENGTH = 50


@dataclass(slots=True)
class QuotaHold:
    """One reserved unit of a user's daily quota, given back if the request fails."""

    user_id: str
    rule_key: str
    day: date
    limit: int
    remaining: int
    released: bool = False


@dataclass(slots=True)
class Admission:
    request_id: str
    principal: Principal
    canonical_model: str
    targets: list[RouteTarget]
    decision: Decision
    quota: QuotaHold | None
    source: str | None
    started: float = field(default_factory=time.perf_counter)
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Set when the counter store was down and UNILLM_QUOTA_FAIL_OPEN let the request through.
    quota_bypassed: bool = False

    def response_headers(self) -> dict[str, str]:
        if self.quota is None:
            return {}
        return {"x-ratelimit-remaining-requests-day": str(self.quota.remaining),
                "x-ratelimit-limit-requests-day": str(self.quota.limit)}


def _source_of(headers: Any) -> str | None:
    source: str | None = headers.get("x-unillm-source")
    if source is None:
        return None
    source = source.strip().lower()
    if not source or len(source) > MAX_SOURCE_LENGTH or not all(ch.isalnum() or ch in "-_." for ch in source):
        raise BadRequest("x-unillm-source must be a short name of letters, digits, '-', '_' or '.'")
    return source


async def admit(runtime: Runtime, *, request_id: str, token: str, headers: Any, model: str,
                messages: list[dict[str, Any]] | None, max_tokens: int | None) -> Admission:
    principal = await auth_service.authenticate(runtime, token, acting_for=headers.get("x-unillm-user"))
    source = _source_of(headers)
    state: GatewayState = runtime.components["gateway"]
    canonical, targets = state.current().routing.resolve(model)
    if "/" not in canonical:
        raise ModelNotFound(f"model '{model}' does not exist: use NAMESPACE/MODEL (for example "
                            "'openai/gpt-4o') or a deployment alias; GET /v1/models lists yours",
                            param="model")
    snapshot = runtime.components["snapshot"].current
    decision = snapshot.policy.decide(
        Subject(user_id=principal.user_id, role=principal.role, tier_code=principal.tier_code,
                agent_id=principal.agent_id),
        canonical,
    )
    if not decision.allowed:
        raise ModelNotAllowed(decision.message, param="model")
    check_context(messages=messages, prompt=None, max_tokens=max_tokens,
                  max_context_length=decision.max_context_length, limit_source=decision.limits_source)
    admission = Admission(request_id=request_id, principal=principal, canonical_model=canonical,
                          targets=targets, decision=decision, quota=None, source=source)
    await _reserve_quota(runtime, admission)
    return admission


async def _reserve_quota(runtime: Runtime, admission: Admission) -> None:
    decision = admission.decision
    limit = decision.max_requests_per_day
    rule_key = decision.quota_key
    if limit is None or rule_key is None:
        return
    settings = runtime.settings
    zone = ZoneInfo(settings.quota_timezone)
    now = datetime.now(UTC)
    day = quota_day(now, zone)
    user_id = admission.principal.user_id
    try:
        remaining = await runtime.components["quota"].reserve(user_id=user_id, rule_key=rule_key,
                                                              day=day, limit=limit)
    except CounterStoreUnavailable:
        if not settings.quota_fail_open:
            raise
        admission.quota_bypassed = True
        return
    if remaining is None:
        metrics = runtime.components.get("metrics")
        if metrics is not None:
            metrics.quota_rejected(admission.principal.tier_code)
        raise QuotaExceeded(
            f"daily quota of {limit} requests for {admission.canonical_model} is used up "
            f"({decision.message}); it resets at midnight {settings.quota_timezone}",
            retry_after_seconds=seconds_until_reset(now, zone),
        )
    admission.quota = QuotaHold(user_id=user_id, rule_key=rule_key, day=day, limit=limit,
                                remaining=remaining)


async def refund(runtime: Runtime, admission: Admission) -> None:
    """Give the reserved unit back: a request the gateway or the upstream failed does not count."""
    hold = admission.quota
    if hold is None or hold.released:
        return
    hold.released = True
    try:
        await runtime.components["quota"].release(user_id=hold.user_id, rule_key=hold.rule_key, day=hold.day)
    except CounterStoreUnavailable:
        # The unit stays counted: safer than admitting more than the quota; the row says it failed.
        pass
