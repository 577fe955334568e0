"""LM Studio: its REST API (/api/v0/models) lists every downloaded model with `state: loaded |
not-loaded`; LM Studio 0.4+ loads and unloads through /api/v1/models/load and /unload (by instance
id, the model key for a first instance). It downloads through its own app, so no pull or delete."""

from __future__ import annotations

from typing import Any

from unillm.errors import UpstreamError
from unillm.server.adapters.base import DiscoveredModel, ServerAdapter, as_int

LOAD_TIMEOUT_SECONDS = 300.0


class LMStudioAdapter(ServerAdapter):
    server_type = "lmstudio"

    def health_path(self) -> str:
        return "/v1/models"

    async def list_models(self) -> list[DiscoveredModel]:
        body = await self.request_json("GET", "/api/v0/models")
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise UpstreamError(f"{self._where()} sent /api/v0/models without a 'data' array")
        models = []
        for entry in body["data"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                continue
            if entry.get("type") == "embeddings":
                continue
            models.append(
                DiscoveredModel(
                    name=entry["id"],
                    quantization=_str(entry.get("quantization")),
                    family=_str(entry.get("arch")),
                    context_length=as_int(entry.get("max_context_length")),
                    loaded=entry.get("state") == "loaded",
                )
            )
        return models

    async def load(self, model: str, keep_alive: str | int = -1) -> None:
        await self.request_json(
            "POST", "/api/v1/models/load", json_body={"model": model}, limit_seconds=LOAD_TIMEOUT_SECONDS
        )

    async def unload(self, model: str) -> None:
        await self.request_json(
            "POST", "/api/v1/models/unload", json_body={"instance_id": model}, allow_empty=True
        )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
