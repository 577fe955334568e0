"""Prometheus metrics: a registry per app, the gateway's methods, and `GET /metrics`."""

from __future__ import annotations

from decimal import Decimal

import httpx
from prometheus_client import Counter, Histogram
from prometheus_client.parser import text_string_to_metric_families

from unillm.app import create_app
from unillm.config import Settings
from unillm.metrics import Metrics


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_observations_land_in_the_right_series() -> None:
    metrics = Metrics()
    metrics.observe_request("openai", "openai/gpt-4o", "success", 1.2, 0.3, 100, 20, 40, Decimal("0.0125"))
    metrics.observe_request("openai", "openai/gpt-4o", "error", 0.1, None, 0, 0, 0, None)
    metrics.quota_rejected("free")
    metrics.upstream_error("openai", "openai/gpt-4o", "upstream_timeout")
    samples = _samples(metrics.render().decode())
    model = (("model", "openai/gpt-4o"), ("provider", "openai"))
    assert samples[("unillm_requests_total", (*model, ("status", "success")))] == 1
    assert samples[("unillm_requests_total", (*model, ("status", "error")))] == 1
    assert samples[("unillm_request_latency_seconds_count", model)] == 2
    assert samples[("unillm_time_to_first_token_seconds_count", model)] == 1
    assert samples[("unillm_tokens_total", (("kind", "cached"), *model))] == 40
    assert samples[("unillm_tokens_total", (("kind", "completion"), *model))] == 20
    assert samples[("unillm_tokens_total", (("kind", "prompt"), *model))] == 100
    assert samples[("unillm_cost_usd_total", model)] == 0.0125
    assert samples[("unillm_quota_rejections_total", (("tier", "free"),))] == 1
    assert samples[("unillm_upstream_errors_total", (("code", "upstream_timeout"), *model))] == 1


def test_each_instance_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.quota_rejected("trial")
    assert "unillm_quota_rejections_total{tier=\"trial\"} 1.0" in first.render().decode()
    assert "tier=\"trial\"" not in second.render().decode()


def test_no_label_can_carry_a_user_or_key() -> None:
    metrics = Metrics()
    declared = {name: tuple(collector._labelnames) for name, collector in vars(metrics).items()
                if isinstance(collector, Counter | Histogram)}
    assert declared == {
        "requests": ("provider", "model", "status"), "latency": ("provider", "model"),
        "ttft": ("provider", "model"), "tokens": ("provider", "model", "kind"),
        "cost": ("provider", "model"), "quota_rejections": ("tier",),
        "upstream_errors": ("provider", "model", "code"),
    }


async def test_metrics_endpoint_is_served_without_auth(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.runtime.components["metrics"].quota_rejected("starter")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://unillm.test") as client:
            response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert _samples(response.text)[("unillm_quota_rejections_total", (("tier", "starter"),))] == 1
    assert "# TYPE unillm_request_latency_seconds histogram" in response.text
