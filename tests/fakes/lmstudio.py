"""A fake LM Studio server: /v1/models (OpenAI, downloaded models), the REST /api/v0/models with
`state: loaded | not-loaded`, and the 0.4+ management endpoints /api/v1/models/load and
/api/v1/models/unload (by `instance_id`, which LM Studio sets to the model key for a first instance)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.local_base import FakeLocalServer, FakeModel, Handler


class FakeLMStudio(FakeLocalServer):
    server_type = "lmstudio"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            *super().routes(),
            ("GET", "/api/v0/models", self.v0_models),
            ("POST", "/api/v1/models/load", self.load),
            ("POST", "/api/v1/models/unload", self.unload),
        ]

    def _v0(self, model: FakeModel) -> dict[str, Any]:
        return {
            "id": model.name,
            "object": "model",
            "type": "llm",
            "publisher": "lmstudio-community",
            "arch": model.family,
            "compatibility_type": "gguf",
            "quantization": model.quantization,
            "state": "loaded" if model.name in self.loaded else "not-loaded",
            "max_context_length": model.context_length,
        }

    async def v0_models(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"object": "list", "data": [self._v0(m) for m in self.models.values()]})

    async def load(self, request: web.Request) -> web.StreamResponse:
        name = str(self.body_of(request).get("model", ""))
        if name not in self.models:
            return web.json_response({"error": f"model '{name}' not found"}, status=404)
        self.loaded.add(name)
        return web.json_response({"type": "llm", "instance_id": name, "status": "loaded"})

    async def unload(self, request: web.Request) -> web.StreamResponse:
        name = str(self.body_of(request).get("instance_id", ""))
        if name not in self.loaded:
            return web.json_response({"error": f"no loaded instance '{name}'"}, status=404)
        self.loaded.discard(name)
        return web.json_response({"instance_id": name})
