"""Failures of OpenAI-compatible upstreams: error statuses, timeouts, refused connections, non-JSON
answers, broken streams; and that no credential ever reaches an error message."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.fakes.openai_api import FakeOpenAI
from tests.gateway.upstream.conftest import PROVIDER_KEY, chat_body, openai_target
from tests.gateway.upstream.h1_servers import free_port_refusing
from unillm.errors import BadRequest, UpstreamError, UpstreamTimeout
from unillm.gateway.upstream import UpstreamUnreachable, adapter_for, is_retryable
from unillm.gateway.upstream.h1 import UpstreamHttp

ADAPTER = adapter_for("openai")


async def collect(stream: object) -> bytes:
    return b"".join([chunk async for chunk in stream])  # type: ignore[attr-defined]


@pytest.mark.parametrize("stream", [False, True])
async def test_429_keeps_retry_after_and_message(http: UpstreamHttp, fake_openai: FakeOpenAI,
                                                 stream: bool) -> None:
    fake_openai.behavior.error_status = 429
    fake_openai.behavior.retry_after = "7"
    with pytest.raises(UpstreamError) as caught:
        if stream:
            await collect(ADAPTER.stream(http, openai_target(fake_openai), chat_body(stream=True)))
        else:
            await ADAPTER.complete(http, openai_target(fake_openai), chat_body())
    assert caught.value.upstream_status == 429
    assert caught.value.retry_after == "7"
    assert "The fake failed with status 429" in caught.value.message
    assert is_retryable(caught.value)


async def test_500_is_retryable_400_is_not(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.error_status = 500
    with pytest.raises(UpstreamError) as server_fault:
        await ADAPTER.complete(http, openai_target(fake_openai), chat_body())
    assert server_fault.value.upstream_status == 500
    assert is_retryable(server_fault.value)
    fake_openai.behavior.error_status = 400
    with pytest.raises(UpstreamError) as client_fault:
        await ADAPTER.complete(http, openai_target(fake_openai), chat_body())
    assert not is_retryable(client_fault.value)


async def test_canary_key_echoed_by_upstream_is_scrubbed(http: UpstreamHttp,
                                                         fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.error_status = 401
    fake_openai.behavior.error_body = {"error": {
        "message": f"Incorrect API key provided: {PROVIDER_KEY}. Header was Bearer {PROVIDER_KEY}",
        "type": "invalid_request_error", "code": "invalid_api_key"}}
    with pytest.raises(UpstreamError) as caught:
        await ADAPTER.complete(http, openai_target(fake_openai), chat_body())
    assert PROVIDER_KEY not in str(caught.value)
    assert "canary" not in str(caught.value)
    assert "Incorrect API key provided" in str(caught.value)


async def test_html_error_page(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.html_error = True
    with pytest.raises(UpstreamError) as caught:
        await ADAPTER.complete(http, openai_target(fake_openai), chat_body())
    assert caught.value.upstream_status == 502
    assert "text/html" in caught.value.message
    assert "<html" not in caught.value.message


async def test_malformed_json_body(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.malformed_json = True
    with pytest.raises(UpstreamError, match="not JSON") as caught:
        await ADAPTER.complete(http, openai_target(fake_openai), chat_body())
    assert caught.value.status_code == 502


async def test_malformed_first_stream_event_raises(http: UpstreamHttp,
                                                   fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.malformed_json = True
    with pytest.raises(UpstreamError, match="not JSON"):
        await collect(ADAPTER.stream(http, openai_target(fake_openai), chat_body(stream=True)))


async def test_first_byte_timeout_on_stream(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.first_byte_delay = 3
    stream = ADAPTER.stream(http, openai_target(fake_openai, first_byte_timeout=0.2), chat_body(stream=True))
    with pytest.raises(UpstreamTimeout, match=r"sent nothing for 0\.2 s") as caught:
        await stream.__anext__()
    assert not is_retryable(caught.value)
    await stream.aclose()


async def test_total_timeout_on_json_call(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.first_byte_delay = 3
    with pytest.raises(UpstreamTimeout, match=r"did not finish within 0\.2 s"):
        await ADAPTER.complete(http, openai_target(fake_openai, total_timeout=0.2), chat_body())


@pytest.mark.parametrize("stream", [False, True])
async def test_refused_connection_is_retryable(http: UpstreamHttp, stream: bool) -> None:
    target = openai_target(FakeOpenAI(), base_url=f"http://user:hunter2@127.0.0.1:{free_port_refusing()}/v1",
                           api_key=None)
    with pytest.raises(UpstreamUnreachable) as caught:
        if stream:
            await collect(ADAPTER.stream(http, target, chat_body(stream=True)))
        else:
            await ADAPTER.complete(http, target, chat_body())
    assert is_retryable(caught.value)
    assert "unreachable" in caught.value.message
    assert "hunter2" not in caught.value.message
    assert PROVIDER_KEY not in caught.value.message


async def test_drop_mid_stream_ends_with_error_event(http: UpstreamHttp,
                                                     fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.chunks = 5
    fake_openai.behavior.drop_after_chunks = 2
    fake_openai.behavior.chunk_delay = 0.02
    stream = ADAPTER.stream(http, openai_target(fake_openai), chat_body(stream=True))
    raw = await collect(stream)
    last = orjson.loads(raw.rstrip(b"\n").rsplit(b"\n\n", 1)[-1][len(b"data: "):])
    assert last["error"]["code"] == "upstream_error"
    assert b"[DONE]" not in raw
    assert stream.error is not None
    assert "before it finished" in stream.error or "closed the connection" in stream.error
    assert stream.completion_text_chars > 0


async def test_error_event_mid_stream(http: UpstreamHttp, fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.stream_error_after_chunks = 2
    fake_openai.behavior.chunk_delay = 0.02  # so the first chunk is relayed before the error arrives
    stream = ADAPTER.stream(http, openai_target(fake_openai), chat_body(stream=True))
    raw = await collect(stream)
    assert stream.error is not None
    assert "The server had an error" in stream.error
    assert raw.endswith(b"\n\n") and b'"error"' in raw


async def test_error_event_before_any_content_raises(http: UpstreamHttp,
                                                     fake_openai: FakeOpenAI) -> None:
    fake_openai.behavior.stream_error_after_chunks = -1  # the error replaces even the role chunk
    with pytest.raises(UpstreamError, match="The server had an error"):
        await collect(ADAPTER.stream(http, openai_target(fake_openai), chat_body(stream=True)))


@pytest.mark.parametrize("field", ["api_key", "extra_value", "extra_name"])
async def test_line_breaks_in_headers_are_refused(http: UpstreamHttp, fake_openai: FakeOpenAI,
                                                  field: str) -> None:
    cases: dict[str, dict[str, Any]] = {
        "api_key": {"api_key": "sk-abc\r\nX-Evil: 1"},
        "extra_value": {"extra_headers": (("X-Title", "a\nb"),)},
        "extra_name": {"extra_headers": (("X-A\r\nX-B", "v"),)},
    }
    overrides = cases[field]
    with pytest.raises(BadRequest) as caught:
        await ADAPTER.complete(http, openai_target(fake_openai, **overrides), chat_body())
    assert "sk-abc" not in caught.value.message
    assert fake_openai.requests == []


@pytest.mark.parametrize("status", [200, 503])
async def test_html_page_answering_a_stream(http: UpstreamHttp, fake_openai: FakeOpenAI,
                                            status: int) -> None:
    fake_openai.behavior.html_error = True
    fake_openai.behavior.error_status = status
    with pytest.raises(UpstreamError, match="text/html") as caught:
        await collect(ADAPTER.stream(http, openai_target(fake_openai), chat_body(stream=True)))
    assert is_retryable(caught.value) == (status == 503)
