"""Prometheus metrics: one `Metrics` (with its own registry) per app, and `GET /metrics`.

Each app gets its own `CollectorRegistry` so several apps in one process (tests, workers) never
share or collide on counters. Labels are bounded: provider, model, status, tier, error code;
never a user id or key, which would grow without limit and leak who uses what.

`/metrics` is unauthenticated, like `/healthz`: scrapers rarely carry bearer tokens. Bind the
service to a private interface or filter the path at the proxy if the model names are sensitive.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from unillm.runtime import Runtime

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(slots=True)
class _RequestSeries:
    requests: Any
    latency: Any
    ttft: Any
    prompt_tokens: Any
    completion_tokens: Any
    cached_tokens: Any
    cost: Any


class Metrics:
    """The gateway's counters; methods are cheap and never raise into the request path."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("unillm_requests", "Gateway requests by outcome.",
                                ("provider", "model", "status"), registry=r)
        self.latency = Histogram("unillm_request_latency_seconds", "Whole-request latency.",
                                 ("provider", "model"), buckets=LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("unillm_time_to_first_token_seconds", "Time to the first streamed byte.",
                              ("provider", "model"), buckets=TTFT_BUCKETS, registry=r)
        self.tokens = Counter("unillm_tokens", "Tokens by kind (prompt, completion, cached).",
                              ("provider", "model", "kind"), registry=r)
        self.cost = Counter("unillm_cost_usd", "Cost in US dollars (float: for dashboards, not billing).",
                            ("provider", "model"), registry=r)
        self.quota_rejections = Counter("unillm_quota_rejections", "Requests refused by a daily quota.",
                                        ("tier",), registry=r)
        self.upstream_errors = Counter("unillm_upstream_errors", "Upstream failures by error code.",
                                       ("provider", "model", "code"), registry=r)
        self._series: dict[tuple[str, str, str], _RequestSeries] = {}

    def observe_request(self, provider: str, model: str, status: str, latency_s: float,
                        ttft_s: float | None, prompt_tokens: int, completion_tokens: int,
                        cached_tokens: int, cost_usd: Decimal | None) -> None:
        series = self._series_of(provider or "unknown", model or "unknown", status)
        series.requests.inc()
        series.latency.observe(max(latency_s, 0.0))
        if ttft_s is not None:
            series.ttft.observe(max(ttft_s, 0.0))
        if prompt_tokens > 0:
            series.prompt_tokens.inc(prompt_tokens)
        if completion_tokens > 0:
            series.completion_tokens.inc(completion_tokens)
        if cached_tokens > 0:
            series.cached_tokens.inc(cached_tokens)
        if cost_usd is not None and cost_usd > 0:
            series.cost.inc(float(cost_usd))

    def _series_of(self, provider: str, model: str, status: str) -> _RequestSeries:
        """The labelled children of one (provider, model, status), looked up once: `labels()` checks
        and hashes its arguments under a lock on every call, seven times a request."""
        key = (provider, model, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _RequestSeries(
                requests=self.requests.labels(provider, model, status),
                latency=self.latency.labels(provider, model), ttft=self.ttft.labels(provider, model),
                prompt_tokens=self.tokens.labels(provider, model, "prompt"),
                completion_tokens=self.tokens.labels(provider, model, "completion"),
                cached_tokens=self.tokens.labels(provider, model, "cached"),
                cost=self.cost.labels(provider, model))
        return series

    def quota_rejected(self, tier: str) -> None:
        self.quota_rejections.labels(tier or "unknown").inc()

    def upstream_error(self, provider: str, model: str, code: str) -> None:
        self.upstream_errors.labels(provider or "unknown", model or "unknown", code or "unknown").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


async def start(runtime: Runtime) -> None:
    runtime.components["metrics"] = Metrics()


router = APIRouter(tags=["service"])


@router.get("/metrics", summary="Prometheus metrics (text format; unauthenticated, like /healthz)",
            response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}})
async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    component = runtime.components.get("metrics")
    body = component.render() if isinstance(component, Metrics) else b""
    return Response(body, media_type=CONTENT_TYPE_LATEST)
