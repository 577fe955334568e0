"""The OpenAI-compatible adapter against the fake OpenAI server: JSON, streams, usage handling,
what is sent upstream, and cancellation."""

from __future__ import annotations

import asyncio

import orjson

from tests.fakes.openai_api import FakeOpenAI
from tests.gateway.upstream.conftest import PROVIDER_KEY, chat_body, openai_target
from unillm.gateway.upstream import TokenUsage, adapter_for
from unillm.gateway.upstream.h1 import UpstreamHttp

CALLER_KEY = "sk-caller-should-never-leave-0000"


def events(raw: bytes) -> list[bytes]:
    return [e[len(b"data: "):] for e in raw.split(b"\n\n") if e]


async def collect(stream: object) -> bytes:
    return b"".join([chunk async for chunk in stream])  # type: ignore[attr-defined]


async def test_complete_returns_upstream_bytes_and_usage(http: UpstreamHttp,
                                                         fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.cached_tokens = 3
    body = chat_body(tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
                     response_format={"type": "json_object"}, n=1, logprobs=False,
                     messages=[{"role": "user", "content": [
                         {"type": "text", "text": "see"},
                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}])
    original = orjson.dumps(body)
    response = await adapter_for("openai").complete(http, openai_target(fake_openai), body)
    assert response.status == 200
    parsed = orjson.loads(response.body)
    assert parsed["choices"][0]["message"]["content"] == fake_openai.behavior.text
    assert response.usage == TokenUsage(prompt_tokens=11, completion_tokens=7, cached_prompt_tokens=3)
    sent = fake_openai.last.json
    assert sent["model"] == "gpt-4o-mini"
    assert {k: v for k, v in sent.items() if k != "model"} == {k: v for k, v in body.items() if k != "model"}
    assert orjson.dumps(body) == original  # the caller's dict is not mutated


async def test_only_the_provider_key_is_sent(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    target = openai_target(fake_openai, extra_headers=(("HTTP-Referer", "https://unillm.local"),
                                                       ("Connection", "close"),
                                                       ("Authorization", f"Bearer {CALLER_KEY}")))
    await adapter_for("openrouter").complete(http, target, chat_body())
    headers = fake_openai.last.headers
    assert headers["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert headers["HTTP-Referer"] == "https://unillm.local"
    assert headers.get("Connection") != "close"
    assert CALLER_KEY not in repr(headers)
    assert headers["Accept-Encoding"] == "identity"


async def test_no_authorization_without_a_key(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    await adapter_for("ollama").complete(http, openai_target(fake_openai, api_key=None), chat_body())
    assert "Authorization" not in fake_openai.last.headers


async def test_stream_strips_usage_the_client_did_not_ask_for(http: UpstreamHttp,
                                                             fake_openai: FakeOpenAI) -> None:
    stream = adapter_for("openai").stream(http, openai_target(fake_openai), chat_body(stream=True))
    raw = await collect(stream)
    assert fake_openai.last.json["stream_options"] == {"include_usage": True}
    data = events(raw)
    assert data[-1] == b"[DONE]"
    chunks = [orjson.loads(d) for d in data[:-1]]
    assert all(c["choices"] for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == fake_openai.behavior.text
    assert stream.usage == TokenUsage(prompt_tokens=11, completion_tokens=7)
    assert stream.completion_text_chars == len(fake_openai.behavior.text)
    assert stream.first_byte_at is not None
    assert stream.error is None


async def test_stream_keeps_usage_when_asked(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    stream = adapter_for("openai").stream(http, openai_target(fake_openai), body)
    data = events(await collect(stream))
    usage_chunk = orjson.loads(data[-2])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens"] == 11
    assert stream.usage is not None


async def test_stream_without_upstream_usage_leaves_usage_none(http: UpstreamHttp,
                                                               fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.send_usage = False
    stream = adapter_for("vllm").stream(http, openai_target(fake_openai), chat_body(stream=True))
    await collect(stream)
    assert stream.usage is None
    assert stream.completion_text_chars == len(fake_openai.behavior.text)


async def test_mistral_gets_no_stream_options(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    target = openai_target(fake_openai, upstream_type="mistral")
    await collect(adapter_for("mistral").stream(http, target, body))
    assert "stream_options" not in fake_openai.last.json


async def test_split_events_and_crlf_are_reassembled(http: UpstreamHttp,
                                                     fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.split_events = True
    fake_openai.behavior.crlf = True
    fake_openai.behavior.chunks = 6
    stream = adapter_for("openai").stream(http, openai_target(fake_openai), chat_body(stream=True))
    data = events(await collect(stream))
    chunks = [orjson.loads(d) for d in data[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == fake_openai.behavior.text
    assert stream.usage is not None


async def test_stream_tool_calls_pass_through(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.tool_calls = [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Oslo"}}]
    stream = adapter_for("groq").stream(http, openai_target(fake_openai), chat_body(stream=True))
    chunks = [orjson.loads(d) for d in events(await collect(stream))[:-1]]
    arguments = "".join(c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                        for c in chunks if c["choices"][0]["delta"].get("tool_calls"))
    assert orjson.loads(arguments) == {"city": "Oslo"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_aclose_cancels_the_upstream(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.chunks = 50
    fake_openai.behavior.chunk_delay = 0.05
    stream = adapter_for("openai").stream(http, openai_target(fake_openai), chat_body(stream=True))
    first = await stream.__anext__()
    assert first.startswith(b"data: ")
    await stream.aclose()
    await asyncio.wait_for(fake_openai.stream_cancelled.wait(), 5)
    assert fake_openai.cancelled_streams == 1
    assert fake_openai.completed_streams == 0


async def test_embeddings(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    body = {"model": "openai/text-embedding-3-small", "input": ["a", "b"]}
    response = await adapter_for("openai").embeddings(
        http, openai_target(fake_openai, upstream_model="text-embedding-3-small"), body)
    parsed = orjson.loads(response.body)
    assert len(parsed["data"]) == 2
    assert response.usage == TokenUsage(prompt_tokens=11)
    assert fake_openai.last.path == "/v1/embeddings"
    assert fake_openai.last.json == {"model": "text-embedding-3-small", "input": ["a", "b"]}


async def test_concurrent_streams_share_the_pool_without_mixing(http: UpstreamHttp,
                                                                fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.chunk_delay = 0.001
    target = openai_target(fake_openai)

    async def one(i: int) -> tuple[int, str]:
        body = chat_body(messages=[{"role": "user", "content": f"n{i}"}], stream=True)
        data = events(await collect(adapter_for("openai").stream(http, target, body)))
        ids = {orjson.loads(d)["id"] for d in data[:-1]}
        assert len(ids) == 1
        return i, ids.pop()

    results = await asyncio.gather(*(one(i) for i in range(40)))
    assert len({ident for _, ident in results}) == 40
    assert fake_openai.completed_streams == 40 and fake_openai.in_flight_streams == 0
