"""llama.cpp's `llama-server`: one GGUF per process; /health is `{"status": "ok"}` (503 while the
model loads, which we report as degraded), /v1/models carries `meta` (size, training context),
/props the context the server actually runs with."""

from __future__ import annotations

from typing import Any

from unillm.errors import UpstreamError
from unillm.server.adapters.base import (
    DiscoveredModel,
    HealthResult,
    ServerAdapter,
    as_int,
    openai_model_entries,
)


class LlamaCppAdapter(ServerAdapter):
    server_type = "llamacpp"

    def health_path(self) -> str:
        return "/health"

    async def health(self) -> HealthResult:
        result = await super().health()
        if result.status == "unhealthy" and result.detail and "HTTP 503" in result.detail:
            return HealthResult("degraded", None, "the server is still loading its model")
        return result

    async def _runtime_context(self) -> int | None:
        try:
            props = await self.request_json("GET", "/props")
        except UpstreamError:
            return None
        settings = props.get("default_generation_settings") if isinstance(props, dict) else None
        return as_int(settings.get("n_ctx")) if isinstance(settings, dict) else None

    async def list_models(self) -> list[DiscoveredModel]:
        entries = openai_model_entries(await self.request_json("GET", "/v1/models"), self._where())
        context = await self._runtime_context()
        models = []
        for entry in entries:
            raw_meta = entry.get("meta")
            meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
            name: str = entry["id"]
            quantization = _quantization_from_filename(name)
            models.append(
                DiscoveredModel(
                    name=name,
                    size_bytes=as_int(meta.get("size")),
                    quantization=quantization,
                    context_length=context or as_int(meta.get("n_ctx_train")),
                    loaded=True,
                )
            )
        return models


def _quantization_from_filename(name: str) -> str | None:
    """GGUF files carry the quantization in their name by convention (`…-Q4_K_M.gguf`)."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".gguf")
    last = stem.replace(".", "-").rsplit("-", 1)[-1]
    upper = last.upper()
    if upper.startswith(("Q", "IQ", "F16", "BF16", "F32")) and any(ch.isdigit() for ch in upper):
        return upper
    return None
