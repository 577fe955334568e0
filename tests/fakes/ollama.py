"""A fake Ollama server: /api/tags, /api/ps, /api/show, /api/pull (NDJSON progress), /api/delete,
/api/generate and /api/chat (keep_alive loads and unloads), /api/version and the /v1 OpenAI surface.

Shapes follow Ollama's API reference: `details.quantization_level`,
`model_info["<arch>.context_length"]`, pull lines `{"status": "pulling <digest>", "digest", "total",
"completed"}` ending with `{"status": "success"}`,
an empty-prompt generate with `keep_alive: 0` answering `done_reason: "unload"`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.local_base import FakeLocalServer, FakeModel, Handler


class FakeOllama(FakeLocalServer):
    server_type = "ollama"

    def __init__(self, models: list[FakeModel] | None = None) -> None:
        super().__init__(models)
        # Models that /api/pull can fetch, with how many progress steps to report.
        self.registry: dict[str, FakeModel] = {}
        self.pull_steps = 4
        self.pull_step_delay = 0.0

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            *super().routes(),
            ("GET", "/", self.root),
            ("GET", "/api/version", self.version),
            ("GET", "/api/tags", self.tags),
            ("GET", "/api/ps", self.ps),
            ("POST", "/api/show", self.show),
            ("POST", "/api/pull", self.pull),
            ("DELETE", "/api/delete", self.delete),
            ("POST", "/api/generate", self.generate),
            ("POST", "/api/chat", self.chat),
        ]

    @staticmethod
    def _details(model: FakeModel) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": model.family,
            "families": [model.family],
            "parameter_size": model.parameter_size,
            "quantization_level": model.quantization,
        }

    def _entry(self, model: FakeModel) -> dict[str, Any]:
        return {
            "name": model.name,
            "model": model.name,
            "modified_at": "2026-11-01T10:00:00Z",
            "size": model.size_bytes,
            "digest": model.digest.removeprefix("sha256:"),
            "details": self._details(model),
        }

    async def root(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="Ollama is running")

    async def version(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"version": "0.5.7"})

    async def tags(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"models": [self._entry(m) for m in self.models.values()]})

    async def ps(self, request: web.Request) -> web.StreamResponse:
        expires = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        models = [
            {
                **self._entry(self.models[name]),
                "expires_at": expires,
                "size_vram": self.models[name].size_bytes,
            }
            for name in sorted(self.loaded)
            if name in self.models
        ]
        return web.json_response({"models": models})

    def _missing(self, name: str) -> web.StreamResponse:
        return web.json_response({"error": f"model '{name}' not found"}, status=404)

    async def show(self, request: web.Request) -> web.StreamResponse:
        body = self.body_of(request)
        name = str(body.get("model") or body.get("name") or "")
        model = self.models.get(name)
        if model is None:
            return self._missing(name)
        return web.json_response(
            {
                "modelfile": f"FROM {name}",
                "parameters": 'stop "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": self._details(model),
                "model_info": {
                    "general.architecture": model.family,
                    "general.parameter_count": 8030261248,
                    f"{model.family}.context_length": model.context_length,
                },
                "modified_at": "2026-11-01T10:00:00Z",
            }
        )

    async def pull(self, request: web.Request) -> web.StreamResponse:
        body = self.body_of(request)
        name = str(body.get("model") or body.get("name") or "")
        source = self.registry.get(name)
        if source is None:
            return web.json_response({"error": "pull model manifest: file does not exist"}, status=500)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)

        async def line(payload: dict[str, Any]) -> None:
            await response.write(json.dumps(payload).encode() + b"\n")
            if self.pull_step_delay:
                await asyncio.sleep(self.pull_step_delay)

        await line({"status": "pulling manifest"})
        digest = source.digest
        total = source.size_bytes
        for step in range(1, self.pull_steps + 1):
            await line(
                {
                    "status": f"pulling {digest[7:19]}",
                    "digest": digest,
                    "total": total,
                    "completed": total * step // self.pull_steps,
                }
            )
        await line({"status": "verifying sha256 digest"})
        await line({"status": "writing manifest"})
        self.models[name] = source
        await line({"status": "success"})
        await response.write_eof()
        return response

    async def delete(self, request: web.Request) -> web.StreamResponse:
        body = self.body_of(request)
        name = str(body.get("model") or body.get("name") or "")
        if self.models.pop(name, None) is None:
            return self._missing(name)
        self.loaded.discard(name)
        return web.Response(status=200)

    def _apply_keep_alive(self, name: str, keep_alive: Any) -> bool:
        """Load or unload as Ollama does; True when the request unloaded the model."""
        if keep_alive in (0, "0", "0s", "0m"):
            self.loaded.discard(name)
            return True
        self.loaded.add(name)
        return False

    async def generate(self, request: web.Request) -> web.StreamResponse:
        body = self.body_of(request)
        name = str(body.get("model", ""))
        if name not in self.models:
            return self._missing(name)
        unloaded = self._apply_keep_alive(name, body.get("keep_alive"))
        created = datetime.now(UTC).isoformat()
        if not body.get("prompt"):
            return web.json_response(
                {
                    "model": name,
                    "created_at": created,
                    "response": "",
                    "done": True,
                    **({"done_reason": "unload"} if unloaded else {}),
                }
            )
        return web.json_response(
            {
                "model": name,
                "created_at": created,
                "response": self.reply_text,
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": 5,
                "eval_count": len(self.reply_text.split()),
            }
        )

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = self.body_of(request)
        name = str(body.get("model", ""))
        if name not in self.models:
            return self._missing(name)
        self._apply_keep_alive(name, body.get("keep_alive"))
        created = datetime.now(UTC).isoformat()
        final = {
            "model": name,
            "created_at": created,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 5,
            "eval_count": len(self.reply_text.split()),
        }
        if body.get("stream") is False:
            final["message"] = {"role": "assistant", "content": self.reply_text}
            return web.json_response(final)
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for word in self.reply_text.split(" "):
            chunk = {
                "model": name,
                "created_at": created,
                "message": {"role": "assistant", "content": word + " "},
                "done": False,
            }
            await response.write(json.dumps(chunk).encode() + b"\n")
        await response.write(json.dumps(final).encode() + b"\n")
        await response.write_eof()
        return response
