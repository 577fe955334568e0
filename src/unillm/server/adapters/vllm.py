"""vLLM's OpenAI server: one model per process, named by /v1/models (with `max_model_len`); /health
answers an empty 200 once the engine is up. It cannot pull, delete, load or unload."""

from __future__ import annotations

from unillm.server.adapters.base import DiscoveredModel, ServerAdapter, as_int, openai_model_entries


class VLLMAdapter(ServerAdapter):
    server_type = "vllm"

    def health_path(self) -> str:
        return "/health"

    async def list_models(self) -> list[DiscoveredModel]:
        entries = openai_model_entries(await self.request_json("GET", "/v1/models"), self._where())
        # A served model is by definition in memory.
        return [
            DiscoveredModel(name=e["id"], context_length=as_int(e.get("max_model_len")), loaded=True)
            for e in entries
        ]
