"""The Anthropic adapter against the fake Messages API: headers, JSON and streaming translation,
usage with cache tokens, errors before and after the first byte, cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from tests.fakes.anthropic_api import FakeAnthropic
from tests.gateway.upstream.conftest import PROVIDER_KEY, anthropic_target, chat_body
from unillm.errors import NotSupported, UpstreamError
from unillm.gateway.upstream import TokenUsage, adapter_for, is_retryable
from unillm.gateway.upstream.h1 import UpstreamHttp

ADAPTER = adapter_for("anthropic")


async def collect(stream: object) -> bytes:
    return b"".join([chunk async for chunk in stream])  # type: ignore[attr-defined]


def chunks_of(raw: bytes) -> list[dict[str, Any]]:
    data = [e[len(b"data: "):] for e in raw.split(b"\n\n") if e]
    assert data[-1] == b"[DONE]"
    return [orjson.loads(d) for d in data[:-1]]


async def test_complete_sends_anthropic_request_and_headers(http: UpstreamHttp,
                                                            fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.behavior.cached_tokens = 100
    fake_anthropic.behavior.cache_creation_tokens = 20
    body = chat_body(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    response = await ADAPTER.complete(http, anthropic_target(fake_anthropic), body)
    recorded = fake_anthropic.last
    assert recorded.path == "/v1/messages"
    assert recorded.headers["x-api-key"] == PROVIDER_KEY
    assert recorded.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in recorded.headers
    assert recorded.json["system"] == "Be brief."
    assert recorded.json["model"] == "claude-3-5-sonnet-20241022"
    assert recorded.json["max_tokens"] == 4096
    completion = orjson.loads(response.body)
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == fake_anthropic.behavior.text
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"]["prompt_tokens"] == 131
    assert completion["usage"]["prompt_tokens_details"] == {"cached_tokens": 100}
    assert response.usage == TokenUsage(prompt_tokens=131, completion_tokens=7, cached_prompt_tokens=100,
                                        cache_creation_tokens=20)


async def test_complete_with_tool_use(
        http: UpstreamHttp, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.behavior.text = ""
    fake_anthropic.behavior.tool_calls = [
        {"id": "toolu_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]
    response = await ADAPTER.complete(http, anthropic_target(fake_anthropic), chat_body(tools=[
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]))
    message = orjson.loads(response.body)["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    assert message["message"]["content"] is None
    assert orjson.loads(message["message"]["tool_calls"][0]["function"]["arguments"]) == {"city": "Oslo"}
    assert fake_anthropic.last.json["tools"][0]["input_schema"] == {"type": "object"}


@pytest.mark.parametrize("include_usage", [False, True])
async def test_stream_translates_text(http: UpstreamHttp, fake_anthropic: FakeAnthropic,
                                      include_usage: bool) -> None:
    fake_anthropic.behavior.split_events = True
    body = chat_body(stream=True, stream_options={"include_usage": include_usage})
    stream = ADAPTER.stream(http, anthropic_target(fake_anthropic), body)
    chunks = chunks_of(await collect(stream))
    assert fake_anthropic.last.json["stream"] is True
    assert "stream_options" not in fake_anthropic.last.json
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == fake_anthropic.behavior.text
    with_choices = [c for c in chunks if c["choices"]]
    assert with_choices[-1]["choices"][0]["finish_reason"] == "stop"
    usage_chunks = [c for c in chunks if not c["choices"]]
    assert len(usage_chunks) == (1 if include_usage else 0)
    if include_usage:
        assert usage_chunks[0]["usage"]["completion_tokens"] == 7
    assert stream.usage == TokenUsage(prompt_tokens=11, completion_tokens=7)
    assert stream.completion_text_chars == len(fake_anthropic.behavior.text)


async def test_stream_translates_tool_calls(
        http: UpstreamHttp, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.behavior.tool_calls = [
        {"id": "toolu_1", "name": "get_weather", "arguments": {"city": "Oslo"}},
        {"id": "toolu_2", "name": "get_time", "arguments": {"tz": "CET"}}]
    stream = ADAPTER.stream(http, anthropic_target(fake_anthropic), chat_body(stream=True))
    chunks = chunks_of(await collect(stream))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for call in chunk["choices"][0]["delta"].get("tool_calls") or ():
            entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.get("id") or ""
            entry["name"] += call.get("function", {}).get("name") or ""
            entry["arguments"] += call.get("function", {}).get("arguments") or ""
    assert calls[0]["id"] == "toolu_1"
    assert calls[1]["name"] == "get_time"
    assert orjson.loads(calls[0]["arguments"]) == {"city": "Oslo"}
    assert orjson.loads(calls[1]["arguments"]) == {"tz": "CET"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_overloaded_before_content_raises_retryable(http: UpstreamHttp,
                                                          fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.behavior.stream_error_after_chunks = 0
    fake_anthropic.behavior.chunk_delay = 0.02
    with pytest.raises(UpstreamError, match="overloaded_error") as caught:
        await collect(ADAPTER.stream(http, anthropic_target(fake_anthropic), chat_body(stream=True)))
    assert is_retryable(caught.value)


async def test_error_after_content_ends_with_error_event(http: UpstreamHttp,
                                                         fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.behavior.stream_error_after_chunks = 3
    fake_anthropic.behavior.chunk_delay = 0.02
    stream = ADAPTER.stream(http, anthropic_target(fake_anthropic), chat_body(stream=True))
    raw = await collect(stream)
    assert stream.error is not None and "overloaded_error" in stream.error
    last = orjson.loads(raw.rstrip(b"\n").rsplit(b"\n\n", 1)[-1][len(b"data: "):])
    assert last["error"]["type"] == "upstream_error"


async def test_drop_mid_stream(
        http: UpstreamHttp, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.behavior.drop_after_chunks = 3
    fake_anthropic.behavior.chunk_delay = 0.02
    stream = ADAPTER.stream(http, anthropic_target(fake_anthropic), chat_body(stream=True))
    raw = await collect(stream)
    assert stream.error is not None
    assert b"[DONE]" not in raw


async def test_error_status_and_retry_after(
        http: UpstreamHttp, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.behavior.error_status = 429
    fake_anthropic.behavior.retry_after = "12"
    with pytest.raises(UpstreamError) as caught:
        await ADAPTER.complete(http, anthropic_target(fake_anthropic), chat_body())
    assert (caught.value.upstream_status, caught.value.retry_after) == (429, "12")
    assert "The fake failed with status 429" in caught.value.message
    fake_anthropic.behavior.error_status = 529
    fake_anthropic.behavior.retry_after = None
    with pytest.raises(UpstreamError) as overloaded:
        await collect(ADAPTER.stream(http, anthropic_target(fake_anthropic), chat_body(stream=True)))
    assert is_retryable(overloaded.value)


async def test_malformed_json(
        http: UpstreamHttp, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.behavior.malformed_json = True
    with pytest.raises(UpstreamError, match="not JSON"):
        await ADAPTER.complete(http, anthropic_target(fake_anthropic), chat_body())
    with pytest.raises(UpstreamError, match="not JSON"):
        await collect(ADAPTER.stream(http, anthropic_target(fake_anthropic), chat_body(stream=True)))


async def test_aclose_cancels_the_upstream(
        http: UpstreamHttp, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.behavior.chunks = 50
    fake_anthropic.behavior.chunk_delay = 0.05
    stream = ADAPTER.stream(http, anthropic_target(fake_anthropic), chat_body(stream=True))
    await stream.__anext__()
    await stream.aclose()
    await asyncio.wait_for(fake_anthropic.stream_cancelled.wait(), 5)
    assert fake_anthropic.cancelled_streams == 1


async def test_embeddings_not_supported(
        http: UpstreamHttp, fake_anthropic: FakeAnthropic) -> None:
    with pytest.raises(NotSupported):
        await ADAPTER.embeddings(http, anthropic_target(fake_anthropic), {"model": "x", "input": "y"})
