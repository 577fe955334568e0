"""Prometheus metrics: one `Metrics` (with its own registry) per app, and `GET /metrics`.

Each app gets its own `CollectorRegistry` so several apps in one process (tests, workers) never
share or collide on counters. Labels are bounded: provider, model, status, tier, error code;
never a user id or key, which would grow without limit and leak who uses what.

`/metrics` is unauthenticated, like `/healthz`: scrapers rarely carry bearer tokens. Bind the
service to a private interface or filter the path at the proxy if the model names are sensitive.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from unillm.runtime import Runtime

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


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

    def observe_request(self, provider: str, model: str, status: str, latency_s: float,
                        ttft_s: float | None, prompt_tokens: int, completion_tokens: int,
                        cached_tokens: int, cost_usd: Decimal | None) -> None:
        provider, model = provider or "unknown", model or "unknown"
        self.requests.labels(provider, model, status).inc()
        self.latency.labels(provider, model).observe(max(latency_s, 0.0))
        if ttft_s is not None:
            self.ttft.labels(provider, model).observe(max(ttft_s, 0.0))
        for kind, count in (("prompt", prompt_tokens), ("completion", completion_tokens),
                            ("cached", cached_tokens)):
            if count > 0:
                self.tokens.labels(provider, model, kind).inc(count)
        if cost_usd is not None and cost_usd > 0:
            self.cost.labels(provider, model).inc(float(cost_usd))

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
