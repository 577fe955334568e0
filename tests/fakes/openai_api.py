"""A fake of OpenAI's HTTP API (chat completions JSON and SSE, embeddings, models) with the real
response shapes, so adapters and the official `openai` SDK can be tested against it.

    async with FakeOpenAI() as fake:
        fake.base_url            # "http://127.0.0.1:PORT/v1"
        fake.behavior.text = "…"; fake.behavior.error_status = 429; fake.behavior.retry_after = "7"
        fake.requests[-1].headers["Authorization"]
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.sse_tools import Behavior, FakeAPI, split_text, sse

OPENAI_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
                      404: "invalid_request_error", 429: "rate_limit_exceeded", 500: "server_error",
                      503: "server_error"}


def openai_error(status: int, message: str | None = None) -> dict[str, Any]:
    kind = OPENAI_ERROR_TYPES.get(status, "server_error")
    code = {401: "invalid_api_key", 429: "rate_limit_exceeded", 404: "model_not_found"}.get(status)
    return {"error": {"message": message or f"The fake failed with status {status}.", "type": kind,
                      "param": None, "code": code}}


class FakeOpenAI(FakeAPI):
    owned_by = "openai"

    def __init__(self, behavior: Behavior | None = None, models: list[str] | None = None) -> None:
        super().__init__(behavior)
        self.models = models or ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
        self._counter = 0

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if self.expected_key is None or request.headers.get("Authorization") == f"Bearer {self.expected_key}":
            return None
        return web.json_response(openai_error(401, "Incorrect API key provided."), status=401)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/chat/completions", self.chat), web.post("/v1/embeddings", self.embeddings),
                web.get("/v1/models", self.list_models)]

    def _id(self) -> str:
        self._counter += 1
        return f"chatcmpl-fake{self._counter:06d}"

    def _usage(self, b: Behavior) -> dict[str, Any]:
        return {"prompt_tokens": b.prompt_tokens, "completion_tokens": b.completion_tokens,
                "total_tokens": b.prompt_tokens + b.completion_tokens,
                "prompt_tokens_details": {"cached_tokens": b.cached_tokens, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0,
                                              "rejected_prediction_tokens": 0}}

    def _tool_calls(self, b: Behavior) -> list[dict[str, Any]]:
        return [{"id": c["id"], "type": "function",
                 "function": {"name": c["name"], "arguments": orjson.dumps(c["arguments"]).decode()}}
                for c in b.tool_calls or ()]

    async def list_models(self, request: web.Request) -> web.Response:
        await self.record(request)
        if (denied := self._unauthorized(request)) is not None:
            return denied
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1_715_367_049, "owned_by": self.owned_by}
            for m in self.models]})

    async def embeddings(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        b = self.behavior
        if (denied := self._unauthorized(request)) is not None:
            return denied
        failure = self.error_response(openai_error(b.error_status or 500))
        if failure is not None:
            return failure
        inputs = body.get("input")
        items = inputs if isinstance(inputs, list) else [inputs]
        data = [{"object": "embedding", "index": i, "embedding": [0.01 * (i + 1), -0.02, 0.03]}
                for i in range(len(items))]
        usage = {"prompt_tokens": b.prompt_tokens, "total_tokens": b.prompt_tokens}
        return web.json_response({"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        b = self.behavior
        if (denied := self._unauthorized(request)) is not None:
            return denied
        if not isinstance(body, dict) or not body.get("messages"):
            return web.json_response(openai_error(400, "'messages' is required"), status=400)
        failure = self.error_response(openai_error(b.error_status or 500))
        if failure is not None:
            return failure
        if body.get("stream"):
            return await self._stream(request, body)
        if not await self.wait(request, b.first_byte_delay):
            return web.Response(status=499)
        if b.malformed_json:
            return web.Response(body=b'{"id": "chatcmpl-x", "choices": [', content_type="application/json")
        message: dict[str, Any] = {"role": "assistant", "content": None if b.tool_calls else b.text,
                                   "refusal": None, "annotations": []}
        if b.tool_calls:
            message["tool_calls"] = self._tool_calls(b)
        finish = b.finish_reason or ("tool_calls" if b.tool_calls else "stop")
        return web.json_response({
            "id": self._id(), "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model"), "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": self._usage(b), "service_tier": "default"})

    async def _stream(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        b = self.behavior
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage"))
        ident, created, model = self._id(), int(time.time()), body.get("model")
        extra = {"usage": None} if include_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                        "system_fingerprint": "fp_fake", **extra,
                        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        if b.malformed_json:
            events[0] = b'data: {"id": "chatcmpl-x", "choices": [\n\n'
        if b.tool_calls:
            for index, call in enumerate(b.tool_calls):
                arguments = orjson.dumps(call["arguments"]).decode()
                events.append(chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                                     "function": {"name": call["name"], "arguments": ""}}]}))
                events.extend(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                              for piece in split_text(arguments, b.chunks))
        else:
            events.extend(chunk({"content": piece}) for piece in split_text(b.text, b.chunks))
        if b.stream_error_after_chunks is not None:
            events = events[:1 + b.stream_error_after_chunks]
            events.append(sse(openai_error(500, "The server had an error while processing your request.")))
            return await self.stream_events(request, events)
        events.append(chunk({}, b.finish_reason or ("tool_calls" if b.tool_calls else "stop")))
        if include_usage and b.send_usage:
            events.append(sse({"id": ident, "object": "chat.completion.chunk", "created": created,
                               "model": model, "system_fingerprint": "fp_fake", "choices": [],
                               "usage": self._usage(b)}))
        events.append(b"data: [DONE]\n\n")
        drop = 1 + b.drop_after_chunks if b.drop_after_chunks is not None else None
        return await self.stream_events(request, events, drop_after=drop)
