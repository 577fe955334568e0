"""The vLLM adapter reads /metrics to describe the load and to degrade an overloaded server, while
/health alone decides healthy versus unhealthy: a broken /metrics never fails a healthy server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.fakes import FakeVLLM
from unillm.server.adapters import adapter_for
from unillm.server.adapters.base import HealthResult
from unillm.server.adapters.vllm import VLLMAdapter, VLLMLoad, combine, parse_load


@pytest.fixture
async def vllm() -> AsyncIterator[FakeVLLM]:
    async with FakeVLLM() as fake:
        yield fake


def _adapter(http: aiohttp.ClientSession, fake: FakeVLLM) -> VLLMAdapter:
    adapter = adapter_for("vllm", http, fake.host, fake.port)
    assert isinstance(adapter, VLLMAdapter)
    return adapter


@pytest.mark.parametrize("newer", [True, False], ids=["kv_cache_usage_perc", "gpu_cache_usage_perc"])
async def test_normal_load_is_healthy_with_the_numbers(http: aiohttp.ClientSession, vllm: FakeVLLM,
                                                       newer: bool) -> None:
    vllm.kv_metric_newer = newer
    vllm.requests_running, vllm.requests_waiting, vllm.kv_cache_usage = 3, 1, 0.42
    load = await _adapter(http, vllm).server_load()
    assert load is not None and load.describe() == "running 3, waiting 1, KV cache 42%"
    health = await _adapter(http, vllm).health()
    # healthy: nothing to report (the detail is stored as the server's health error)
    assert (health.status, health.detail) == ("healthy", None)
    assert health.latency_ms is not None
    assert vllm.paths()[-2:] == ["/metrics", "/health"]


async def test_a_queue_pile_up_degrades(http: aiohttp.ClientSession, vllm: FakeVLLM) -> None:
    vllm.requests_running, vllm.requests_waiting, vllm.kv_cache_usage = 4, 20, 0.7
    health = await _adapter(http, vllm).health()
    assert health.status == "degraded"
    assert health.detail == (
        "requests are queueing (20 waiting, 4 running); running 4, waiting 20, KV cache 70%"
    )


async def test_a_full_kv_cache_degrades(http: aiohttp.ClientSession, vllm: FakeVLLM) -> None:
    vllm.requests_running, vllm.kv_cache_usage = 12, 0.99
    health = await _adapter(http, vllm).health()
    assert health.status == "degraded"
    assert health.detail is not None and health.detail.startswith("KV cache is full (99%)")


@pytest.mark.parametrize(("running", "waiting"), [(0, 7), (10, 20), (16, 8)])
async def test_a_short_or_proportionate_queue_stays_healthy(http: aiohttp.ClientSession, vllm: FakeVLLM,
                                                            running: int, waiting: int) -> None:
    vllm.requests_running, vllm.requests_waiting = running, waiting
    assert (await _adapter(http, vllm).health()).status == "healthy"


@pytest.mark.parametrize("body", [
    "<html><body>502 Bad Gateway</body></html>",
    'vllm:num_requests_running{model_name="m"} lots\n',
    'vllm:num_requests_waiting{model_name="m 3\n',
    "",
    "# HELP process_cpu_seconds_total CPU.\n# TYPE process_cpu_seconds_total counter\n"
    "process_cpu_seconds_total 1.5\n",
], ids=["html", "bad-value", "broken-labels", "empty", "no-vllm-gauges"])
async def test_malformed_metrics_leave_a_healthy_server_healthy(http: aiohttp.ClientSession,
                                                                vllm: FakeVLLM, body: str) -> None:
    vllm.metrics_body = body
    health = await _adapter(http, vllm).health()
    assert (health.status, health.detail) == ("healthy", None)
    assert health.latency_ms is not None


@pytest.mark.parametrize("status", [500, 404])
async def test_failing_metrics_leave_a_healthy_server_healthy(http: aiohttp.ClientSession, vllm: FakeVLLM,
                                                              status: int) -> None:
    vllm.requests_waiting = 50  # would degrade, were it readable
    vllm.fail_with(status, "/metrics")
    health = await _adapter(http, vllm).health()
    assert (health.status, health.detail) == ("healthy", None)
    assert vllm.paths() == ["/metrics", "/health"]


async def test_metrics_do_not_rescue_a_failing_health(http: aiohttp.ClientSession, vllm: FakeVLLM) -> None:
    vllm.requests_running = 2
    vllm.fail_with(503, "/health")
    health = await _adapter(http, vllm).health()
    assert health.status == "unhealthy"
    assert health.detail is not None and "HTTP 503" in health.detail


async def test_a_dead_server_is_unhealthy(http: aiohttp.ClientSession, vllm: FakeVLLM) -> None:
    await vllm.stop()
    health = await _adapter(http, vllm).health()
    assert (health.status, health.latency_ms) == ("unhealthy", None)
    assert health.detail is not None and "cannot connect" in health.detail


def test_engines_add_up_and_the_fullest_cache_counts() -> None:
    text = (
        "# TYPE vllm:num_requests_running gauge\n"
        'vllm:num_requests_running{engine="0",model_name="m"} 2.0\n'
        'vllm:num_requests_running{engine="1",model_name="m"} 3.0\n'
        "# TYPE vllm:num_requests_waiting gauge\n"
        'vllm:num_requests_waiting{engine="0",model_name="m"} NaN\n'
        "# TYPE vllm:kv_cache_usage_perc gauge\n"
        'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25\n'
        'vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.5\n'
        "# TYPE vllm:gpu_cache_usage_perc gauge\n"
        'vllm:gpu_cache_usage_perc{model_name="m"} 0.99\n'
    )
    assert parse_load(text) == VLLMLoad(running=5.0, waiting=None, kv_cache_usage=0.5)


def test_slowness_and_load_both_show_in_a_degraded_result() -> None:
    slow = HealthResult("degraded", 2500.0, "slow answer: 2500 ms")
    result = combine(slow, VLLMLoad(running=1, waiting=0, kv_cache_usage=0.1))
    assert result == HealthResult(
        "degraded", 2500.0, "slow answer: 2500 ms; running 1, waiting 0, KV cache 10%"
    )
