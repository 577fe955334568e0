"""The last step of the pipeline: one usage record per admitted request (success, error or
cancelled) handed to the usage writer, and the Prometheus metrics. No I/O on the request path:
`UsageWriter.submit` journals and queues."""

from __future__ import annotations

import time
from dataclasses import dataclass

from unillm.deployment.routing import RouteTarget
from unillm.gateway.admission import Admission
from unillm.gateway.request import estimate_tokens
from unillm.gateway.state import GatewayState, cost_of
from unillm.gateway.upstream import TokenUsage
from unillm.runtime import Runtime
from unillm.usage.records import QuotaUnit, UsageRecord


@dataclass(slots=True)
class Outcome:
    status: str  # success | error | cancelled
    status_code: int
    usage: TokenUsage | None = None
    prompt_chars: int = 0
    completion_chars: int = 0
    first_byte_at: float | None = None
    error_message: str | None = None
    error_code: str | None = None


def _tokens(outcome: Outcome) -> TokenUsage:
    if outcome.usage is not None:
        return outcome.usage
    if outcome.status == "error" and outcome.first_byte_at is None:
        return TokenUsage()
    return TokenUsage(prompt_tokens=estimate_tokens(outcome.prompt_chars),
                      completion_tokens=estimate_tokens(outcome.completion_chars), estimated=True)


def record(runtime: Runtime, admission: Admission, target: RouteTarget | None, outcome: Outcome) -> None:
    state: GatewayState = runtime.components["gateway"]
    tokens = _tokens(outcome)
    price = state.price_for(admission.canonical_model)
    cost = cost_of(price, tokens.prompt_tokens, tokens.cached_prompt_tokens, tokens.completion_tokens)
    now = time.perf_counter()
    latency_ms = int((now - admission.started) * 1000)
    ttft_ms = (int((outcome.first_byte_at - admission.started) * 1000)
               if outcome.first_byte_at is not None else None)
    provider = target.upstream_type if target else admission.canonical_model.split("/", 1)[0]
    metadata: dict[str, object] = {}
    if admission.quota_bypassed:
        metadata["quota_fail_open"] = True
    if target is not None and target.provider_id is not None:
        metadata["provider_id"] = str(target.provider_id)
    if tokens.cache_creation_tokens:
        metadata["cache_creation_tokens"] = tokens.cache_creation_tokens
    principal = admission.principal
    hold = admission.quota
    quota_unit = None
    if hold is not None and not hold.released and runtime.components["quota"].persists_through_ledger:
        quota_unit = QuotaUnit(rule_key=hold.rule_key, day=hold.day)
    runtime.components["usage"].submit(UsageRecord(
        request_id=admission.request_id,
        timestamp=admission.timestamp,
        user_id=principal.user_id,
        api_key_id=principal.api_key_id,
        tier_code=principal.tier_code,
        model_id=admission.canonical_model,
        provider=provider,
        server_id=target.server_id if target else None,
        deployment_id=target.deployment_id if target else None,
        source=admission.source,
        prompt_tokens=tokens.prompt_tokens,
        cached_prompt_tokens=tokens.cached_prompt_tokens,
        completion_tokens=tokens.completion_tokens,
        total_tokens=tokens.prompt_tokens + tokens.completion_tokens,
        usage_estimated=tokens.estimated,
        price=price,
        cost_usd=cost,
        latency_ms=latency_ms,
        time_to_first_token_ms=ttft_ms,
        status=outcome.status,
        status_code=outcome.status_code,
        error_message=outcome.error_message,
        metadata=metadata,
        quota_unit=quota_unit,
    ))
    metrics = runtime.components.get("metrics")
    if metrics is not None:
        metrics.observe_request(provider, admission.canonical_model, outcome.status, latency_ms / 1000,
                                ttft_ms / 1000 if ttft_ms is not None else None, tokens.prompt_tokens,
                                tokens.completion_tokens, tokens.cached_prompt_tokens, cost)
        if outcome.status == "error" and outcome.error_code:
            metrics.upstream_error(provider, admission.canonical_model, outcome.error_code)
