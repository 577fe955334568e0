"""A fake llama.cpp `llama-server`: one GGUF per process; /health (`{"status": "ok"}`, or 503
"Loading model" while loading), /v1/models with `meta`, /props with `default_generation_settings.n_ctx`."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.local_base import FakeLocalServer, FakeModel, Handler


class FakeLlamaCpp(FakeLocalServer):
    server_type = "llamacpp"

    def __init__(self, model: FakeModel | None = None) -> None:
        model = model or FakeModel(name="Llama-3.2-3B-Instruct-Q4_K_M.gguf", context_length=4096)
        super().__init__([model])
        self.loaded = {model.name}
        self.loading = False

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [*super().routes(), ("GET", "/health", self.health), ("GET", "/props", self.props)]

    async def health(self, request: web.Request) -> web.StreamResponse:
        if self.loading:
            return web.json_response(
                {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}, status=503
            )
        return web.json_response({"status": "ok"})

    async def props(self, request: web.Request) -> web.StreamResponse:
        model = next(iter(self.models.values()))
        return web.json_response(
            {
                "default_generation_settings": {"n_ctx": model.context_length},
                "total_slots": 1,
                "model_path": f"/models/{model.name}",
                "chat_template": "{{ messages }}",
            }
        )

    async def openai_models(self, request: web.Request) -> web.StreamResponse:
        data = [
            {
                "id": m.name,
                "object": "model",
                "created": 1700000000,
                "owned_by": "llamacpp",
                "meta": {
                    "vocab_type": 2,
                    "n_vocab": 128256,
                    "n_ctx_train": m.context_length,
                    "n_embd": 3072,
                    "n_params": 3212749888,
                    "size": m.size_bytes,
                },
            }
            for m in self.models.values()
        ]
        return web.json_response({"object": "list", "data": data})
