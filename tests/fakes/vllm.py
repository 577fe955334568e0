"""A fake vLLM OpenAI server: one model per process; /health (empty 200), /v1/models with
`max_model_len`, /metrics (Prometheus text whose load gauges are knobs), /version and chat
completions."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.local_base import FakeLocalServer, FakeModel, Handler


class FakeVLLM(FakeLocalServer):
    server_type = "vllm"

    def __init__(self, model: FakeModel | None = None) -> None:
        model = model or FakeModel(
            name="meta-llama/Llama-3.1-8B-Instruct", quantization="", context_length=8192
        )
        super().__init__([model])
        self.loaded = {model.name}
        # /metrics knobs: the gauges, which KV-cache metric name (newer vLLM renamed it), and a
        # verbatim body that replaces the page (to serve garbage).
        self.requests_running = 0.0
        self.requests_waiting = 0.0
        self.kv_cache_usage = 0.0
        self.kv_metric_newer = True
        self.metrics_body: str | None = None

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            *super().routes(),
            ("GET", "/health", self.health),
            ("GET", "/metrics", self.metrics),
            ("GET", "/version", self.version),
        ]

    async def health(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=200)

    async def version(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"version": "0.6.4"})

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        text = self.metrics_body if self.metrics_body is not None else self.metrics_text()
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    def metrics_text(self) -> str:
        """A /metrics page shaped like vLLM's: HELP/TYPE lines, `model_name` (and on the newer engine
        `engine`) labels, a counter and a histogram around the gauges the adapter reads."""
        name = next(iter(self.models))
        labels = f'engine="0",model_name="{name}"' if self.kv_metric_newer else f'model_name="{name}"'
        cache_metric, cache_help = (
            ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.")
            if self.kv_metric_newer
            else ("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.")
        )
        gauges = [
            ("vllm:num_requests_running", "Number of requests in model execution batches.",
             self.requests_running),
            ("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
             self.requests_waiting),
            (cache_metric, cache_help, self.kv_cache_usage),
        ]
        lines = [
            "# HELP python_gc_objects_collected_total Objects collected during gc",
            "# TYPE python_gc_objects_collected_total counter",
            'python_gc_objects_collected_total{generation="0"} 12345.0',
        ]
        for metric, help_text, value in gauges:
            lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge",
                      f"{metric}{{{labels}}} {value}"]
        lines += [
            "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.",
            "# TYPE vllm:prompt_tokens_total counter",
            f"vllm:prompt_tokens_total{{{labels}}} 1024.0",
            "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.",
            "# TYPE vllm:time_to_first_token_seconds histogram",
            f'vllm:time_to_first_token_seconds_bucket{{{labels},le="0.1"}} 3.0',
            f'vllm:time_to_first_token_seconds_bucket{{{labels},le="+Inf"}} 4.0',
            f"vllm:time_to_first_token_seconds_count{{{labels}}} 4.0",
            f"vllm:time_to_first_token_seconds_sum{{{labels}}} 0.42",
        ]
        return "\n".join(lines) + "\n"

    async def openai_models(self, request: web.Request) -> web.StreamResponse:
        data: list[dict[str, object]] = [
            {
                "id": m.name,
                "object": "model",
                "created": 1700000000,
                "owned_by": "vllm",
                "root": m.name,
                "parent": None,
                "max_model_len": m.context_length,
                "permission": [],
            }
            for m in self.models.values()
        ]
        return web.json_response({"object": "list", "data": data})
