"""A fake of Anthropic's Messages API (`POST /v1/messages`, JSON and SSE) with the real event
sequence: message_start, content_block_start/delta/stop, ping, message_delta, message_stop, error.

    async with FakeAnthropic() as fake:
        fake.base_url            # "http://127.0.0.1:PORT" (Anthropic's base URL has no /v1)
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.fakes.sse_tools import Behavior, FakeAPI, split_text, sse

ANTHROPIC_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                         404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                         500: "api_error", 529: "overloaded_error"}


def anthropic_error(status: int, message: str | None = None) -> dict[str, Any]:
    return {"type": "error", "error": {"type": ANTHROPIC_ERROR_TYPES.get(status, "api_error"),
                                       "message": message or f"The fake failed with status {status}."},
            "request_id": "req_fake"}


class FakeAnthropic(FakeAPI):
    api_prefix = ""

    def __init__(self, behavior: Behavior | None = None, models: list[str] | None = None) -> None:
        super().__init__(behavior)
        self.models = models or ["claude-3-5-sonnet-20241022", "claude-3-5-haiku-20241022"]
        self._counter = 0

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/messages", self.messages), web.get("/v1/models", self.list_models)]

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if self.expected_key is None or request.headers.get("x-api-key") == self.expected_key:
            return None
        return web.json_response(anthropic_error(401, "invalid x-api-key"), status=401)

    async def list_models(self, request: web.Request) -> web.Response:
        await self.record(request)
        if (denied := self._unauthorized(request)) is not None:
            return denied
        data = [{"type": "model", "id": m, "display_name": m, "created_at": "2024-10-22T00:00:00Z"}
                for m in self.models]
        return web.json_response({"data": data, "has_more": False, "first_id": self.models[0],
                                  "last_id": self.models[-1]})

    def _usage(self, *, output: int) -> dict[str, Any]:
        b = self.behavior
        return {"input_tokens": b.prompt_tokens, "cache_creation_input_tokens": b.cache_creation_tokens,
                "cache_read_input_tokens": b.cached_tokens, "output_tokens": output}

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        b = self.behavior
        if (denied := self._unauthorized(request)) is not None:
            return denied
        if request.headers.get("anthropic-version") is None:
            error = anthropic_error(400, "anthropic-version: header is required")
            return web.json_response(error, status=400)
        if not isinstance(body, dict) or "max_tokens" not in body or not body.get("messages"):
            return web.json_response(anthropic_error(400, "max_tokens: Field required"), status=400)
        failure = self.error_response(anthropic_error(b.error_status or 500))
        if failure is not None:
            return failure
        self._counter += 1
        ident = f"msg_fake{self._counter:06d}"
        stop_reason = b.finish_reason or ("tool_use" if b.tool_calls else "end_turn")
        if body.get("stream"):
            return await self._stream(request, body, ident, stop_reason)
        if not await self.wait(request, b.first_byte_delay):
            return web.Response(status=499)
        if b.malformed_json:
            return web.Response(body=b'{"id": "msg_x", "content": [', content_type="application/json")
        content: list[dict[str, Any]] = [{"type": "text", "text": b.text}] if b.text else []
        content.extend({"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
                       for c in b.tool_calls or ())
        return web.json_response({"id": ident, "type": "message", "role": "assistant",
                                  "model": body["model"], "content": content, "stop_reason": stop_reason,
                                  "stop_sequence": None, "usage": self._usage(output=b.completion_tokens)})

    async def _stream(self, request: web.Request, body: dict[str, Any], ident: str,
                      stop_reason: str) -> web.StreamResponse:
        b = self.behavior
        events = [sse({"type": "message_start", "message": {
            "id": ident, "type": "message", "role": "assistant", "model": body["model"], "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": self._usage(output=1)}}, "message_start")]
        if b.malformed_json:
            events[0] = b'event: message_start\ndata: {"type": "message_start", "message": {\n\n'
        index = 0
        content_events: list[bytes] = []
        if b.text:
            content_events.append(sse({"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}}, "content_block_start"))
            content_events.extend(
                sse({"type": "content_block_delta", "index": 0,
                     "delta": {"type": "text_delta", "text": piece}}, "content_block_delta")
                for piece in split_text(b.text, b.chunks))
            content_events.append(sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
            index = 1
        for call in b.tool_calls or ():
            arguments = orjson.dumps(call["arguments"]).decode()
            content_events.append(sse({"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}},
                "content_block_start"))
            content_events.extend(sse({"type": "content_block_delta", "index": index,
                                       "delta": {"type": "input_json_delta", "partial_json": piece}},
                                      "content_block_delta") for piece in split_text(arguments, b.chunks))
            content_events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
            index += 1
        events.append(sse({"type": "ping"}, "ping"))
        if b.stream_error_after_chunks is not None:
            events.extend(content_events[:b.stream_error_after_chunks])
            overloaded = {"type": "overloaded_error", "message": "Overloaded"}
            events.append(sse({"type": "error", "error": overloaded}, "error"))
            return await self.stream_events(request, events)
        events.extend(content_events)
        usage: dict[str, Any] = {"output_tokens": b.completion_tokens} if b.send_usage else {}
        delta = {"stop_reason": stop_reason, "stop_sequence": None}
        events.append(sse({"type": "message_delta", "delta": delta, "usage": usage}, "message_delta"))
        events.append(sse({"type": "message_stop"}, "message_stop"))
        drop = 2 + b.drop_after_chunks if b.drop_after_chunks is not None else None
        return await self.stream_events(request, events, drop_after=drop)
