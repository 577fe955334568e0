"""A fake vLLM OpenAI server: one model per process; /health (empty 200), /v1/models with
`max_model_len`, /metrics (Prometheus text), /version and chat completions."""

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
        name = next(iter(self.models))
        text = (
            "# HELP vllm:num_requests_running Number of requests currently running on GPU.\n"
            "# TYPE vllm:num_requests_running gauge\n"
            f'vllm:num_requests_running{{model_name="{name}"}} 0.0\n'
        )
        return web.Response(text=text, content_type="text/plain")

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
