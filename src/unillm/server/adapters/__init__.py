"""Adapters for the local model server types, by the `type` column of `model_servers`."""

from __future__ import annotations

import aiohttp

from unillm.errors import BadRequest
from unillm.server.adapters.base import (
    DEFAULT_TIMEOUT_SECONDS,
    DiscoveredModel,
    HealthResult,
    PullProgress,
    ServerAdapter,
)
from unillm.server.adapters.llamacpp import LlamaCppAdapter
from unillm.server.adapters.lmstudio import LMStudioAdapter
from unillm.server.adapters.ollama import OllamaAdapter
from unillm.server.adapters.vllm import VLLMAdapter

ADAPTERS: dict[str, type[ServerAdapter]] = {
    "ollama": OllamaAdapter,
    "vllm": VLLMAdapter,
    "lmstudio": LMStudioAdapter,
    "llamacpp": LlamaCppAdapter,
}


def adapter_for(
    server_type: str,
    http: aiohttp.ClientSession,
    host: str,
    port: int,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> ServerAdapter:
    cls = ADAPTERS.get(server_type)
    if cls is None:
        raise BadRequest(f"unknown server type {server_type!r}; use one of {', '.join(ADAPTERS)}")
    return cls(http, host, port, timeout=timeout)


__all__ = ["ADAPTERS", "DiscoveredModel", "HealthResult", "PullProgress", "ServerAdapter", "adapter_for"]
