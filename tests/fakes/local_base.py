"""The shared machinery of the fake local model servers: an aiohttp app on 127.0.0.1 with an
ephemeral port, started in-process by a test, with knobs for latency, forced errors, malformed JSON
and a dead listener, and a record of every request it received.

The fakes exist so adapters are tested against real HTTP (timeouts, connection refusals, streamed
bodies) rather than mocks that cannot fail the way a server does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JSON_BODY = web.RequestKey("json_body", object)


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any


@dataclass
class FakeModel:
    """A model the fake holds on disk (`installed`) and may hold in memory (`loaded`)."""

    name: str
    size_bytes: int = 4_661_224_676
    digest: str = "sha256:" + "a" * 64
    family: str = "llama"
    quantization: str = "Q4_K_M"
    parameter_size: str = "8.0B"
    context_length: int = 8192


@dataclass
class Faults:
    latency_seconds: float = 0.0
    error_status: int | None = None
    error_paths: set[str] = field(default_factory=set)  # empty: every path
    malformed_json: bool = False


class FakeLocalServer:
    """Base of the four fakes; subclasses add their routes in `routes()`."""

    server_type = "base"

    def __init__(self, models: list[FakeModel] | None = None) -> None:
        self.models: dict[str, FakeModel] = {m.name: m for m in models or []}
        self.loaded: set[str] = set()
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []
        self.reply_text = "Hello from the fake."
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._site is not None

    async def start(self) -> None:
        """Listen (again) on the same port after `stop()`, or on a fresh ephemeral port at first."""
        if self._runner is None:
            app = web.Application(middlewares=[self._fault_middleware])
            for method, path, handler in self.routes():
                app.router.add_route(method, path, handler)
            self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
            await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self._site = site
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Close the listener and every open connection: a dead server (connections are refused)."""
        self._site = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def close(self) -> None:
        await self.stop()

    # -- controls --------------------------------------------------------------------------------
    def set_latency(self, seconds: float) -> None:
        self.faults.latency_seconds = seconds

    def fail_with(self, status: int | None, *paths: str) -> None:
        self.faults.error_status = status
        self.faults.error_paths = set(paths)

    def set_malformed(self, on: bool = True) -> None:
        self.faults.malformed_json = on

    def heal(self) -> None:
        self.faults = Faults()

    def add_model(self, model: FakeModel) -> None:
        self.models[model.name] = model

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    # -- plumbing --------------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("POST", "/v1/chat/completions", self.openai_chat), ("GET", "/v1/models", self.openai_models)]

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        self.requests.append(RecordedRequest(request.method, request.path, body))
        request[JSON_BODY] = body
        faults = self.faults
        if faults.latency_seconds:
            await asyncio.sleep(faults.latency_seconds)
        applies = not faults.error_paths or request.path in faults.error_paths
        if faults.error_status is not None and applies:
            return web.json_response(
                {"error": f"forced failure {faults.error_status}"}, status=faults.error_status
            )
        if faults.malformed_json and applies:
            return web.Response(text='{"models": [ this is not json', content_type="application/json")
        return await handler(request)

    @staticmethod
    def body_of(request: web.Request) -> dict[str, Any]:
        body = request[JSON_BODY]
        return body if isinstance(body, dict) else {}

    # -- OpenAI-compatible surface shared by all four servers -----------------------------------
    def openai_model_ids(self) -> list[str]:
        return sorted(self.models)

    async def openai_models(self, request: web.Request) -> web.StreamResponse:
        data = [
            {"id": name, "object": "model", "created": 1700000000, "owned_by": self.server_type}
            for name in self.openai_model_ids()
        ]
        return web.json_response({"object": "list", "data": data})

    def _usage(self, body: dict[str, Any]) -> dict[str, int]:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion = len(self.reply_text.split())
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    async def openai_chat(self, request: web.Request) -> web.StreamResponse:
        body = self.body_of(request)
        model = str(body.get("model", ""))
        if model not in self.models:
            return web.json_response(
                {
                    "error": {
                        "message": f"model '{model}' not found",
                        "type": "invalid_request_error",
                        "code": "model_not_found",
                    }
                },
                status=404,
            )
        self.loaded.add(model)
        created = int(time.time())
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": self.reply_text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": self._usage(body),
                }
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        async for chunk in self._openai_chunks(body, model, created):
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _openai_chunks(
        self, body: dict[str, Any], model: str, created: int
    ) -> AsyncIterator[dict[str, Any]]:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model}
        yield {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
        for word in self.reply_text.split(" "):
            yield {**base, "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        if include_usage:
            yield {**base, "choices": [], "usage": self._usage(body)}
