"""The adapter for every upstream that speaks OpenAI's API (OpenAI, OpenRouter, Groq, Together,
Mistral, Gemini's and Cohere's compatibility endpoints, and the local servers).

The request body is forwarded as the client sent it (only `model`, and for streams
`stream_options`, change); response bytes go back untouched except the usage chunk that the gateway
asked for on the client's behalf. Parsing with orjson is kept because usage must be read anyway.
"""

from __future__ import annotations

from typing import Any

import orjson

from unillm.gateway.upstream import http as upstream_http
from unillm.gateway.upstream.defaults import sends_stream_options
from unillm.gateway.upstream.h1 import H1Response, UpstreamHttp
from unillm.gateway.upstream.sse import DONE, SSEEvent, frame
from unillm.gateway.upstream.stream import RelayStream, StreamFailure
from unillm.gateway.upstream.types import TokenUsage, UpstreamResponse, UpstreamStream, UpstreamTarget


def usage_from_openai(usage: Any) -> TokenUsage | None:
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    details = usage.get("prompt_tokens_details")
    cached = (details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    if not isinstance(prompt, int) or not isinstance(completion, int) or not isinstance(cached, int):
        return None
    return TokenUsage(prompt_tokens=prompt, completion_tokens=completion, cached_prompt_tokens=cached)


def _auth(target: UpstreamTarget) -> dict[str, str]:
    return {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}


def _url(target: UpstreamTarget, path: str) -> str:
    return target.base_url.rstrip("/") + path


class OpenAIStreamTranslator:
    """Passes OpenAI chunks through, counting text and reading usage on the way."""

    __slots__ = ("done", "finished", "keep_usage", "text_chars", "usage")

    def __init__(self, keep_usage: bool) -> None:
        self.keep_usage = keep_usage
        self.usage: TokenUsage | None = None
        self.text_chars = 0
        self.done = False
        self.finished = False

    def handle(self, event: SSEEvent) -> bytes | None:
        data = event.data
        if data == b"[DONE]":
            self.done = True
            return DONE
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StreamFailure("the upstream sent a stream event that is not JSON") from None
        if not isinstance(chunk, dict):
            raise StreamFailure("the upstream sent a stream event that is not a JSON object")
        if event.event == "error" or chunk.get("error"):
            message = upstream_http.error_message_of(chunk) or "the upstream reported an error mid-stream"
            error = chunk.get("error")
            status = error.get("code") if isinstance(error, dict) else None
            raise StreamFailure(message, upstream_status=status if isinstance(status, int) else None)
        choices = chunk.get("choices")
        if choices:
            self._count(choices)
        usage = chunk.get("usage")
        if usage:
            self.usage = usage_from_openai(usage) or self.usage
            if not self.keep_usage:
                if not choices:
                    return None
                del chunk["usage"]
                return frame(orjson.dumps(chunk))
        if b"\n" in data:  # multi-line data: re-frame as one line
            return frame(orjson.dumps(chunk))
        return frame(data)

    def _count(self, choices: list[Any]) -> None:
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            if choice.get("finish_reason"):
                self.finished = True
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                continue
            content = delta.get("content")
            if isinstance(content, str):
                self.text_chars += len(content)
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str):
                self.text_chars += len(reasoning)
            for call in delta.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                arguments = function.get("arguments") if isinstance(function, dict) else None
                if isinstance(arguments, str):
                    self.text_chars += len(arguments)

    def at_eof(self) -> bytes:
        if self.finished:  # some servers end without [DONE] after the last choice finished
            self.done = True
            return DONE
        raise StreamFailure("the upstream closed the stream before it finished")


class OpenAICompatAdapter:
    """Stateless; one instance serves every OpenAI-compatible target."""

    async def complete(self, http: UpstreamHttp, target: UpstreamTarget,
                       body: dict[str, Any]) -> UpstreamResponse:
        payload = dict(body)
        payload["model"] = target.upstream_model
        payload.pop("stream", None)
        payload.pop("stream_options", None)
        headers = upstream_http.build_headers(target, _auth(target), accept="application/json")
        response = await upstream_http.post(http, target, _url(target, "/chat/completions"), headers,
                                            orjson.dumps(payload), stream=False)
        raw, parsed = await upstream_http.read_json(response, target)
        return UpstreamResponse(status=200, body=raw, usage=usage_from_openai(parsed.get("usage")))

    def stream(self, http: UpstreamHttp, target: UpstreamTarget,
               body: dict[str, Any]) -> UpstreamStream:
        payload = dict(body)
        payload["model"] = target.upstream_model
        payload["stream"] = True
        options = body.get("stream_options")
        client_wants_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        if sends_stream_options(target.upstream_type):
            payload["stream_options"] = {**options, "include_usage": True} if isinstance(options, dict) \
                else {"include_usage": True}
        else:
            payload.pop("stream_options", None)  # this provider rejects the field
        headers = upstream_http.build_headers(target, _auth(target), accept="text/event-stream")
        data = orjson.dumps(payload)
        url = _url(target, "/chat/completions")

        async def open_response() -> H1Response:
            return await upstream_http.post(http, target, url, headers, data, stream=True)

        return RelayStream(open_response, OpenAIStreamTranslator(keep_usage=client_wants_usage), target)

    async def embeddings(self, http: UpstreamHttp, target: UpstreamTarget,
                         body: dict[str, Any]) -> UpstreamResponse:
        payload = dict(body)
        payload["model"] = target.upstream_model
        headers = upstream_http.build_headers(target, _auth(target), accept="application/json")
        response = await upstream_http.post(http, target, _url(target, "/embeddings"), headers,
                                            orjson.dumps(payload), stream=False)
        raw, parsed = await upstream_http.read_json(response, target)
        return UpstreamResponse(status=200, body=raw, usage=usage_from_openai(parsed.get("usage")))


OPENAI_COMPAT = OpenAICompatAdapter()
