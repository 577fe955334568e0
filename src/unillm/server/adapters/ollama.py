"""Ollama: /api/tags lists what is on disk, /api/ps what is in memory, /api/show gives the context
length; /api/pull streams NDJSON progress; an empty /api/generate with `keep_alive` loads (-1: keep
forever) or unloads (0) a model, which is how Ollama itself documents preloading."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from unillm.errors import UpstreamError, UpstreamTimeout
from unillm.server.adapters.base import DiscoveredModel, PullProgress, ServerAdapter, as_int, error_text

# Between two progress lines of a pull; a large layer can take a while to verify.
PULL_READ_TIMEOUT_SECONDS = 300.0
# Loading a model into memory reads gigabytes from disk.
LOAD_TIMEOUT_SECONDS = 300.0
SHOW_CONCURRENCY = 4


class OllamaAdapter(ServerAdapter):
    server_type = "ollama"

    def health_path(self) -> str:
        return "/api/version"

    def _models_of(self, body: Any, path: str) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("models"), list):
            raise UpstreamError(f"{self._where()} sent {path} without a 'models' array")
        return [m for m in body["models"] if isinstance(m, dict) and isinstance(m.get("name"), str)]

    async def loaded_models(self) -> list[str]:
        body = await self.request_json("GET", "/api/ps")
        return [m["name"] for m in self._models_of(body, "/api/ps")]

    async def _context_length(self, name: str, limit: asyncio.Semaphore) -> int | None:
        """From /api/show's model_info (`<architecture>.context_length`); None when unavailable."""
        async with limit:
            try:
                body = await self.request_json("POST", "/api/show", json_body={"model": name})
            except UpstreamError:
                return None
        info = body.get("model_info") if isinstance(body, dict) else None
        if not isinstance(info, dict):
            return None
        arch = info.get("general.architecture")
        value = info.get(f"{arch}.context_length") if arch else None
        if value is None:
            value = next((v for k, v in info.items() if k.endswith(".context_length")), None)
        return as_int(value)

    async def list_models(self) -> list[DiscoveredModel]:
        tags = self._models_of(await self.request_json("GET", "/api/tags"), "/api/tags")
        loaded = set(await self.loaded_models())
        limit = asyncio.Semaphore(SHOW_CONCURRENCY)
        contexts = await asyncio.gather(*(self._context_length(m["name"], limit) for m in tags))
        models = []
        for entry, context in zip(tags, contexts, strict=True):
            raw_details = entry.get("details")
            details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
            digest = entry.get("digest")
            models.append(
                DiscoveredModel(
                    name=entry["name"],
                    size_bytes=as_int(entry.get("size")),
                    quantization=details.get("quantization_level") or None,
                    family=details.get("family") or None,
                    context_length=context,
                    digest=digest if isinstance(digest, str) else None,
                    loaded=entry["name"] in loaded,
                )
            )
        return models

    async def pull(self, model: str) -> AsyncIterator[PullProgress]:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout, sock_read=PULL_READ_TIMEOUT_SECONDS
        )
        try:
            async with self.http.post(
                self.base_url + "/api/pull", json={"model": model, "stream": True}, timeout=timeout
            ) as response:
                if response.status >= 400:
                    reason = error_text(await response.read())
                    raise UpstreamError(
                        f"{self._where()} refused to pull {model}: HTTP {response.status}: {reason}",
                        upstream_status=response.status,
                    )
                finished = False
                async for raw in response.content:
                    if not raw.strip():
                        continue
                    progress = self._progress_line(raw, model)
                    yield progress
                    if progress.done:
                        finished = True
                if not finished:
                    raise UpstreamError(f"{self._where()} ended the pull of {model} before it succeeded")
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{self._where()} stopped sending pull progress for {model}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError(f"cannot connect to {self._where()}: {exc.os_error.strerror or exc}") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"{self._where()} broke off the pull of {model}: {exc}") from exc

    def _progress_line(self, raw: bytes, model: str) -> PullProgress:
        try:
            line = json.loads(raw)
        except ValueError as exc:
            raise UpstreamError(f"{self._where()} sent malformed pull progress for {model}") from exc
        if not isinstance(line, dict):
            raise UpstreamError(f"{self._where()} sent malformed pull progress for {model}")
        if "error" in line:
            raise UpstreamError(f"{self._where()} failed to pull {model}: {line['error']}")
        digest = line.get("digest")
        return PullProgress(
            status=str(line.get("status", "")),
            total=as_int(line.get("total")),
            completed=as_int(line.get("completed")),
            digest=digest if isinstance(digest, str) else None,
        )

    async def delete(self, model: str) -> None:
        await self.request_json("DELETE", "/api/delete", json_body={"model": model}, allow_empty=True)

    async def load(self, model: str, keep_alive: str | int = -1) -> None:
        await self.request_json(
            "POST",
            "/api/generate",
            json_body={"model": model, "keep_alive": keep_alive},
            limit_seconds=LOAD_TIMEOUT_SECONDS,
        )

    async def unload(self, model: str) -> None:
        await self.request_json("POST", "/api/generate", json_body={"model": model, "keep_alive": 0})
