"""vLLM's OpenAI server: one model per process, named by /v1/models (with `max_model_len`); /health
answers an empty 200 once the engine is up. It cannot pull, delete, load or unload.

/health only says the engine is alive, not whether it keeps up, so the adapter also reads vLLM's
Prometheus /metrics (running and waiting requests, KV-cache usage) to describe the load and to
mark an overloaded server `degraded`. /health alone decides healthy versus unhealthy: a /metrics
that fails or is malformed never makes a healthy server unhealthy, it only leaves the detail out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from unillm.server.adapters.base import (
    DiscoveredModel,
    HealthResult,
    ServerAdapter,
    as_int,
    openai_model_entries,
)

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
# vLLM renamed the KV-cache gauge (V1 engine); the newer name wins when a server exports both.
KV_CACHE_USAGE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")

# A queue is "piling up" when at least this many requests wait and they outnumber the running ones
# by this factor: a short queue is normal batching, a long one means callers are waiting.
QUEUE_MIN_WAITING = 8
QUEUE_FACTOR = 2.0
# A full KV cache makes vLLM preempt running requests, so answers slow down for everyone.
KV_CACHE_FULL = 0.98
# /metrics is an extra: it must not add much to a probe of a hung server.
METRICS_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class VLLMLoad:
    """What vLLM's /metrics says about its load; None for a gauge the server did not export."""

    running: float | None = None
    waiting: float | None = None
    kv_cache_usage: float | None = None  # 0..1

    def pressure(self) -> str | None:
        """Why the server counts as overloaded, or None when it keeps up."""
        reasons = []
        waiting, running = self.waiting, self.running or 0.0
        if waiting is not None and waiting >= QUEUE_MIN_WAITING and waiting > QUEUE_FACTOR * running:
            reasons.append(f"requests are queueing ({waiting:.0f} waiting, {running:.0f} running)")
        if self.kv_cache_usage is not None and self.kv_cache_usage >= KV_CACHE_FULL:
            reasons.append(f"KV cache is full ({self.kv_cache_usage:.0%})")
        return "; ".join(reasons) or None

    def describe(self) -> str:
        parts = []
        if self.running is not None:
            parts.append(f"running {self.running:.0f}")
        if self.waiting is not None:
            parts.append(f"waiting {self.waiting:.0f}")
        if self.kv_cache_usage is not None:
            parts.append(f"KV cache {self.kv_cache_usage:.0%}")
        return ", ".join(parts)


def _values(samples: Iterable[tuple[str, float]], name: str) -> list[float]:
    return [value for sample_name, value in samples if sample_name == name and math.isfinite(value)]


def parse_load(text: str) -> VLLMLoad | None:
    """Pure: the load in a /metrics body, or None when the body is malformed or holds none of the
    gauges. Series of several engines (labels `engine`, `model_name`) add up; cache usage is the
    fullest engine's, since that one preempts first."""
    try:
        samples = [
            (sample.name, float(sample.value))
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]
    except Exception:  # the parser of untrusted text raises ValueError mostly; any failure = no metrics
        return None
    running, waiting = _values(samples, RUNNING), _values(samples, WAITING)
    cache = next((values for name in KV_CACHE_USAGE if (values := _values(samples, name))), [])
    if not (running or waiting or cache):
        return None
    return VLLMLoad(
        running=sum(running) if running else None,
        waiting=sum(waiting) if waiting else None,
        kv_cache_usage=max(cache) if cache else None,
    )


def combine(result: HealthResult, load: VLLMLoad | None) -> HealthResult:
    """Pure: /health's verdict with the load added; the load can degrade, never fail, a server."""
    if result.status == "unhealthy" or load is None:
        return result
    pressure = load.pressure()
    if not pressure and result.status != "degraded":
        # The detail is stored as the server's health error, so a healthy server gets none.
        return result
    detail = "; ".join(part for part in (result.detail, pressure, load.describe()) if part)
    return HealthResult("degraded", result.latency_ms, detail or None)


class VLLMAdapter(ServerAdapter):
    server_type = "vllm"

    def health_path(self) -> str:
        return "/health"

    async def health(self) -> HealthResult:
        # /metrics first so /health stays the probe's last (and deciding) request.
        load = await self.server_load()
        return combine(await super().health(), load)

    async def server_load(self) -> VLLMLoad | None:
        """The server's load from /metrics, or None when /metrics cannot be read or parsed."""
        seconds = min(self.timeout, METRICS_TIMEOUT_SECONDS)
        try:
            async with self.http.get(
                self.base_url + "/metrics", timeout=aiohttp.ClientTimeout(total=seconds)
            ) as response:
                if response.status != 200:
                    return None
                raw = await response.read()
        except (TimeoutError, aiohttp.ClientError):
            return None
        return parse_load(raw.decode(errors="replace"))

    async def list_models(self) -> list[DiscoveredModel]:
        entries = openai_model_entries(await self.request_json("GET", "/v1/models"), self._where())
        # A served model is by definition in memory.
        return [
            DiscoveredModel(name=e["id"], context_length=as_int(e.get("max_model_len")), loaded=True)
            for e in entries
        ]
