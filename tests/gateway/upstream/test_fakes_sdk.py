"""The fakes are faithful enough for the official `openai` SDK to parse them, JSON and streams; and
the adapters' output (including the Anthropic translation) parses with the SDK's own types."""

from __future__ import annotations

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.openai_api import FakeOpenAI
from tests.gateway.upstream.conftest import anthropic_target, chat_body
from unillm.gateway.upstream import adapter_for
from unillm.gateway.upstream.h1 import UpstreamHttp


async def test_sdk_json_and_models(fake_openai: FakeOpenAI) -> None:
    async with openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="x", max_retries=0) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        models = await client.models.list()
        embeddings = await client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert completion.choices[0].message.content == fake_openai.behavior.text
    assert completion.usage is not None and completion.usage.total_tokens == 18
    assert [m.id for m in models.data] == fake_openai.models
    assert len(embeddings.data) == 2
    assert fake_openai.requests[0].headers["Authorization"] == "Bearer x"


async def test_sdk_stream_with_usage(fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.split_events = True
    async with openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="x", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True,
            stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == fake_openai.behavior.text
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens_details is not None


async def test_sdk_sees_rate_limit_with_retry_after(fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.error_status = 429
    fake_openai.behavior.retry_after = "3"
    async with openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="x", max_retries=0) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.response.headers["retry-after"] == "3"


async def test_sdk_raises_on_mid_stream_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.stream_error_after_chunks = 1
    async with openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="x", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True)
        with pytest.raises(openai.APIError, match="The server had an error"):
            async for _ in stream:
                pass


async def test_anthropic_translation_parses_as_openai_types(http: UpstreamHttp,
                                                            fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.behavior.tool_calls = [{"id": "toolu_1", "name": "f", "arguments": {"a": 1}}]
    adapter = adapter_for("anthropic")
    response = await adapter.complete(http, anthropic_target(fake_anthropic), chat_body())
    completion = ChatCompletion.model_validate_json(response.body)
    assert completion.choices[0].message.tool_calls is not None
    stream = adapter.stream(http, anthropic_target(fake_anthropic),
                            chat_body(stream=True, stream_options={"include_usage": True}))
    raw = b"".join([chunk async for chunk in stream])
    events = [e[len(b"data: "):] for e in raw.split(b"\n\n") if e][:-1]
    chunks = [ChatCompletionChunk.model_validate_json(e) for e in events]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 7


async def test_fakes_check_the_expected_key(fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic) -> None:
    fake_openai.expected_key = "right"
    async with openai.AsyncOpenAI(base_url=fake_openai.base_url, api_key="wrong", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.models.list()
    fake_anthropic.expected_key = "right"
    models_url = fake_anthropic.base_url + "/v1/models"
    async with aiohttp.ClientSession() as http:  # any client: this checks the fake, not the gateway
        async with http.get(models_url, headers={"x-api-key": "right"}) as response:
            listing = await response.json()
        assert [m["id"] for m in listing["data"]] == fake_anthropic.models
        async with http.get(models_url, headers={"x-api-key": "no"}) as response:
            assert response.status == 401
            assert (await response.json())["error"]["type"] == "authentication_error"
