"""The adapter for Anthropic's Messages API: OpenAI requests in, OpenAI responses and chunks out.

The stream translator turns Anthropic's typed events (message_start, content_block_*,
message_delta, message_stop, ping, error) into `chat.completion.chunk` events. The role chunk is held
back until the first content, so an `overloaded_error` right after message_start is still an error
before the first byte (a JSON error the gateway may fail over on) rather than a broken stream.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from unillm.errors import NotSupported
from unillm.gateway.upstream import http as upstream_http
from unillm.gateway.upstream.anthropic_translate import (
    finish_reason,
    openai_usage,
    to_anthropic_request,
    to_openai_response,
    usage_from_anthropic,
)
from unillm.gateway.upstream.h1 import H1Response, UpstreamHttp
from unillm.gateway.upstream.sse import DONE, SSEEvent, frame
from unillm.gateway.upstream.stream import RelayStream, StreamFailure
from unillm.gateway.upstream.types import TokenUsage, UpstreamResponse, UpstreamStream, UpstreamTarget

ANTHROPIC_VERSION = "2023-06-01"
# Anthropic's error types → the HTTP status they come with (for the fail-over decision)
ERROR_STATUSES = {"overloaded_error": 529, "api_error": 500, "rate_limit_error": 429,
                  "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                  "not_found_error": 404, "request_too_large": 413, "timeout_error": 504}


def _auth(target: UpstreamTarget) -> dict[str, str]:
    headers = {"anthropic-version": ANTHROPIC_VERSION}
    if target.api_key:
        headers["x-api-key"] = target.api_key
    return headers


def messages_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    return base + "/messages" if base.endswith("/v1") else base + "/v1/messages"


class AnthropicStreamTranslator:
    __slots__ = ("_created", "_held", "_id", "_model", "_tool_index", "_tools", "_usage_raw", "done",
                 "keep_usage", "stop_reason", "text_chars", "usage")

    def __init__(self, keep_usage: bool) -> None:
        self.keep_usage = keep_usage
        self.usage: TokenUsage | None = None
        self.text_chars = 0
        self.done = False
        self.stop_reason: str | None = None
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._held: bytes | None = None
        self._tools: dict[int, int] = {}  # Anthropic block index → OpenAI tool_call index
        self._tool_index = 0
        self._usage_raw: dict[str, Any] = {}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return frame(orjson.dumps({
            "id": self._id, "object": "chat.completion.chunk", "created": self._created, "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}))

    def _emit(self, data: bytes) -> bytes:
        if self._held is not None:
            data, self._held = self._held + data, None
        return data

    def handle(self, event: SSEEvent) -> bytes | None:
        try:
            payload = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise StreamFailure("the upstream sent a stream event that is not JSON") from None
        if not isinstance(payload, dict):
            raise StreamFailure("the upstream sent a stream event that is not a JSON object")
        kind = payload.get("type") or event.event
        if kind == "content_block_delta":
            return self._delta(payload)
        if kind == "message_start":
            message = payload.get("message") or {}
            self._id = message.get("id") or ""
            self._model = message.get("model") or ""
            self._usage_raw.update(message.get("usage") or {})
            self.usage = usage_from_anthropic(self._usage_raw)
            self._held = self._chunk({"role": "assistant", "content": ""})
            return None
        if kind == "content_block_start":
            block = payload.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self._tool_index
                self._tool_index += 1
                self._tools[payload.get("index", 0)] = index
                self.text_chars += len(block.get("name") or "")
                return self._emit(self._chunk({"tool_calls": [{
                    "index": index, "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""}}]}))
            if block.get("type") == "text" and block.get("text"):
                self.text_chars += len(block["text"])
                return self._emit(self._chunk({"content": block["text"]}))
            return None
        if kind == "message_delta":
            self.stop_reason = (payload.get("delta") or {}).get("stop_reason") or self.stop_reason
            # usage here is cumulative; newer API versions repeat the input counts too
            self._usage_raw.update({k: v for k, v in (payload.get("usage") or {}).items() if v is not None})
            self.usage = usage_from_anthropic(self._usage_raw)
            return None
        if kind == "message_stop":
            return self._finish()
        if kind == "error":
            error = payload.get("error") or {}
            error_type = error.get("type") or "api_error"
            raise StreamFailure(f"the upstream reported {error_type}: {error.get('message') or 'no message'}",
                                upstream_status=ERROR_STATUSES.get(error_type))
        return None  # ping, content_block_stop, and event types added later

    def _delta(self, payload: dict[str, Any]) -> bytes | None:
        delta = payload.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text") or ""
            self.text_chars += len(text)
            return self._emit(self._chunk({"content": text}))
        if kind == "input_json_delta":
            partial = delta.get("partial_json") or ""
            index = self._tools.get(payload.get("index", 0))
            if index is None or not partial:
                return None
            self.text_chars += len(partial)
            call = {"index": index, "function": {"arguments": partial}}
            return self._emit(self._chunk({"tool_calls": [call]}))
        if kind == "thinking_delta":
            thinking = delta.get("thinking") or ""
            self.text_chars += len(thinking)
            return self._emit(self._chunk({"reasoning_content": thinking}))
        return None  # signature_delta, citations_delta

    def _finish(self) -> bytes:
        self.done = True
        out = self._emit(self._chunk({}, finish_reason(self.stop_reason) or "stop"))
        if self.keep_usage and self.usage is not None:
            out += frame(orjson.dumps({
                "id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._model, "choices": [], "usage": openai_usage(self.usage)}))
        return out + DONE

    def at_eof(self) -> bytes:
        raise StreamFailure("the upstream closed the stream before it finished")


class AnthropicAdapter:
    async def complete(self, http: UpstreamHttp, target: UpstreamTarget,
                       body: dict[str, Any]) -> UpstreamResponse:
        payload = orjson.dumps(to_anthropic_request(body, target.upstream_model, stream=False))
        headers = upstream_http.build_headers(target, _auth(target), accept="application/json")
        response = await upstream_http.post(http, target, messages_url(target.base_url), headers, payload,
                                            stream=False)
        _, parsed = await upstream_http.read_json(response, target)
        completion, usage = to_openai_response(parsed)
        return UpstreamResponse(status=200, body=orjson.dumps(completion), usage=usage)

    def stream(self, http: UpstreamHttp, target: UpstreamTarget,
               body: dict[str, Any]) -> UpstreamStream:
        payload = orjson.dumps(to_anthropic_request(body, target.upstream_model, stream=True))
        headers = upstream_http.build_headers(target, _auth(target), accept="text/event-stream")
        options = body.get("stream_options")
        keep_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        url = messages_url(target.base_url)

        async def open_response() -> H1Response:
            return await upstream_http.post(http, target, url, headers, payload, stream=True)

        return RelayStream(open_response, AnthropicStreamTranslator(keep_usage), target)

    async def embeddings(self, http: UpstreamHttp, target: UpstreamTarget,
                         body: dict[str, Any]) -> UpstreamResponse:
        raise NotSupported("Anthropic has no embeddings API; use an embedding model from another provider")


ANTHROPIC = AnthropicAdapter()
