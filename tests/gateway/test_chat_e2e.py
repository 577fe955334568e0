"""The gateway end to end: the official `openai` SDK against unillm (real uvicorn) against the fakes."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import openai
import pytest

from tests.gateway.conftest import ANTHROPIC_PROVIDER_KEY, OPENAI_PROVIDER_KEY, Gateway

HELLO = [{"role": "user", "content": "Say hello"}]


async def test_json_chat_through_the_sdk_writes_one_priced_usage_row(gateway: Gateway) -> None:
    price = {
        "input_price_per_1k": "0.0025",
        "output_price_per_1k": "0.01",
        "cached_input_price_per_1k": "0.00125",
    }
    assert (await gateway.admin.put("/api/v1/pricing/openai/gpt-4o", json=price)).status_code == 200
    client = gateway.client(gateway.keys["professional"])
    gateway.openai_fake.behavior.text = "Hi there, friend."
    response = await client.chat.completions.with_raw_response.create(
        model="openai/gpt-4o", messages=HELLO, extra_headers={"x-unillm-source": "openwebui"}
    )
    completion = response.parse()
    assert completion.choices[0].message.content == "Hi there, friend."
    assert completion.usage is not None and completion.usage.prompt_tokens == 11
    assert response.headers["x-request-id"]
    assert response.headers["x-ratelimit-remaining-requests-day"] == "499"
    sent = gateway.openai_fake.requests[-1]
    assert sent.json["model"] == "gpt-4o"
    assert sent.headers["Authorization"] == f"Bearer {OPENAI_PROVIDER_KEY}"
    rows = await gateway.usage_rows()
    assert len(rows) == 1
    row = rows[0]
    assert (
        row.request_id,
        row.user_id,
        row.tier_code,
        row.model_id,
        row.provider,
        row.source,
        row.status,
    ) == (
        response.headers["x-request-id"],
        "user-professional",
        "professional",
        "openai/gpt-4o",
        "openai",
        "openwebui",
        "success",
    )
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (11, 7, 18)
    assert row.usage_estimated is False
    assert row.latency_ms is not None and row.status_code == 200
    # 11 prompt tokens at $0.0025/1k + 7 completion tokens at $0.01/1k, exact, frozen into the row
    assert row.cost_usd == Decimal("0.0000975")
    assert row.input_price_per_1k == Decimal("0.0025") and row.output_price_per_1k == Decimal("0.01")
    await gateway.admin.put("/api/v1/pricing/openai/gpt-4o", json={**price, "input_price_per_1k": "1"})
    assert (await gateway.usage_rows())[0].cost_usd == Decimal("0.0000975")


async def test_unknown_fields_pass_through_untouched(gateway: Gateway) -> None:
    client = gateway.client(gateway.keys["professional"])
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    await client.chat.completions.create(
        model="openai/gpt-4o",
        messages=HELLO,
        tools=tools,
        response_format={"type": "json_object"},
        n=2,
        logprobs=True,
        extra_body={"vendor_field": {"x": 1}},
    )  # type: ignore[arg-type]
    sent = gateway.openai_fake.requests[-1].json
    assert sent["tools"] == tools and sent["n"] == 2 and sent["logprobs"] is True
    assert sent["response_format"] == {"type": "json_object"} and sent["vendor_field"] == {"x": 1}


@pytest.mark.parametrize("include_usage", [True, False])
async def test_streaming_relays_chunks_and_usage_only_when_asked(
    gateway: Gateway, include_usage: bool
) -> None:
    client = gateway.client(gateway.keys["professional"])
    gateway.openai_fake.behavior.text = "one two three four five six"
    gateway.openai_fake.behavior.chunks = 6
    options = {"include_usage": True} if include_usage else openai.NOT_GIVEN
    stream = await client.chat.completions.create(
        model="openai/gpt-4o", messages=HELLO, stream=True, stream_options=options
    )  # type: ignore[arg-type]
    text, usage_chunks = "", 0
    async for chunk in stream:
        if chunk.usage is not None:
            usage_chunks += 1
        for choice in chunk.choices:
            text += choice.delta.content or ""
    assert text == "one two three four five six"
    assert usage_chunks == (1 if include_usage else 0)
    assert gateway.openai_fake.requests[-1].json["stream_options"] == {"include_usage": True}
    rows = await gateway.rows_eventually(1)
    assert [r.status for r in rows] == ["success"]
    assert rows[0].completion_tokens == 7 and rows[0].usage_estimated is False
    assert rows[0].time_to_first_token_ms is not None


async def test_stream_without_upstream_usage_is_estimated_and_marked(gateway: Gateway) -> None:
    gateway.openai_fake.behavior.send_usage = False
    gateway.openai_fake.behavior.text = "x" * 40
    client = gateway.client(gateway.keys["professional"])
    stream = await client.chat.completions.create(model="openai/gpt-4o", messages=HELLO, stream=True)
    async for _ in stream:
        pass
    rows = await gateway.rows_eventually(1)
    assert rows[0].usage_estimated is True
    assert rows[0].completion_tokens == 10 and rows[0].prompt_tokens == 3


async def test_anthropic_through_the_gateway_json_and_stream(gateway: Gateway) -> None:
    gateway.anthropic_fake.behavior.text = "Bonjour from Claude"
    client = gateway.client(gateway.keys["professional"])
    completion = await client.chat.completions.create(
        model="anthropic/claude-3-5-sonnet", messages=[{"role": "system", "content": "Be brief."}, *HELLO]
    )
    assert completion.choices[0].message.content == "Bonjour from Claude"
    assert completion.choices[0].finish_reason == "stop"
    sent = gateway.anthropic_fake.requests[-1]
    assert sent.json["system"] == "Be brief." and sent.json["model"] == "claude-3-5-sonnet"
    assert sent.headers["x-api-key"] == ANTHROPIC_PROVIDER_KEY and "Authorization" not in sent.headers
    stream = await client.chat.completions.create(
        model="anthropic/claude-3-5-sonnet",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    text = ""
    async for chunk in stream:
        text += "".join(c.delta.content or "" for c in chunk.choices)
    assert text == "Bonjour from Claude"
    rows = await gateway.rows_eventually(2)
    assert [r.provider for r in rows] == ["anthropic", "anthropic"]


async def test_errors_use_the_openai_envelope(gateway: Gateway) -> None:
    bad = gateway.client("ulm-not-a-real-key")
    with pytest.raises(openai.AuthenticationError) as unauthorized:
        await bad.chat.completions.create(model="openai/gpt-4o", messages=HELLO)
    assert unauthorized.value.code == "invalid_api_key"
    trial = gateway.client(gateway.keys["trial"])
    with pytest.raises(openai.PermissionDeniedError) as denied:
        await trial.chat.completions.create(model="openai/gpt-4", messages=HELLO)
    assert denied.value.code == "model_not_allowed" and "'*'" in denied.value.message
    pro = gateway.client(gateway.keys["professional"])
    with pytest.raises(openai.NotFoundError) as missing:
        await pro.chat.completions.create(model="no-such-model", messages=HELLO)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as too_long:
        await pro.chat.completions.create(model="openai/gpt-4", messages=HELLO, max_tokens=9000)
    assert too_long.value.code == "context_length_exceeded" and "8192" in too_long.value.message.replace(
        ",", ""
    )
    with pytest.raises(openai.BadRequestError) as invalid:
        await pro.chat.completions.create(model="openai/gpt-4o", messages=[])
    assert invalid.value.code == "invalid_request_error"
    assert await gateway.usage_rows() == []  # nothing was admitted


async def test_daily_quota_admits_exactly_the_limit_then_429_with_retry_after(gateway: Gateway) -> None:
    await gateway.add_rule("tiny", "openai/*", limit=2)
    client = gateway.client(await gateway.create_key("tiny-user", "tiny"))
    for _ in range(2):
        await client.chat.completions.create(model="openai/gpt-4o", messages=HELLO)
    with pytest.raises(openai.RateLimitError) as limited:
        await client.chat.completions.create(model="openai/gpt-4o", messages=HELLO)
    assert limited.value.code == "daily_quota_exceeded"
    assert 0 < int(limited.value.response.headers["retry-after"]) <= 86400


async def test_upstream_failure_is_a_502_refunds_the_quota_and_is_recorded(gateway: Gateway) -> None:
    await gateway.add_rule("tiny", "openai/*", limit=1)
    client = gateway.client(await gateway.create_key("tiny-user", "tiny"))
    gateway.openai_fake.behavior.error_status = 400
    with pytest.raises(openai.APIStatusError) as failed:
        await client.chat.completions.create(model="openai/gpt-4o", messages=HELLO)
    assert failed.value.status_code == 502 and failed.value.code == "upstream_error"
    gateway.openai_fake.behavior.error_status = None
    await client.chat.completions.create(model="openai/gpt-4o", messages=HELLO)  # the unit came back
    rows = await gateway.usage_rows()
    assert [r.status for r in rows] == ["error", "success"]


async def test_upstream_429_keeps_retry_after(gateway: Gateway) -> None:
    gateway.openai_fake.behavior.error_status = 429
    gateway.openai_fake.behavior.retry_after = "7"
    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "openai/gpt-4o", "messages": HELLO},
            headers={"Authorization": f"Bearer {gateway.keys['professional']}"},
        )
    # The upstream's own rate limit is an upstream error (502), not the caller's quota (429), but its
    # Retry-After reaches the client, and the message says the upstream refused.
    assert response.status_code == 502
    assert response.headers["retry-after"] == "7"
    error = response.json()["error"]
    assert error["code"] == "upstream_error" and "429" in error["message"]


async def test_stream_error_before_first_byte_is_a_json_error_not_a_200(gateway: Gateway) -> None:
    gateway.openai_fake.behavior.error_status = 500
    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "openai/gpt-4o", "messages": HELLO, "stream": True},
            headers={"Authorization": f"Bearer {gateway.keys['professional']}"},
        )
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == "upstream_error"


async def test_stream_error_after_first_byte_ends_with_an_sse_error_event(gateway: Gateway) -> None:
    gateway.openai_fake.behavior.chunks = 6
    gateway.openai_fake.behavior.drop_after_chunks = 2
    gateway.openai_fake.behavior.chunk_delay = 0.02
    client = gateway.client(gateway.keys["professional"])
    stream = await client.chat.completions.create(model="openai/gpt-4o", messages=HELLO, stream=True)
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
    rows = await gateway.rows_eventually(1)
    assert [r.status for r in rows] == ["error"] and rows[0].error_message


async def test_client_disconnect_cancels_the_upstream_and_records_cancelled(gateway: Gateway) -> None:
    gateway.openai_fake.behavior.chunks = 50
    gateway.openai_fake.behavior.chunk_delay = 0.05
    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        async with client.stream(
            "POST",
            "/v1/chat/completions",
            json={"model": "openai/gpt-4o", "messages": HELLO, "stream": True},
            headers={"Authorization": f"Bearer {gateway.keys['professional']}"},
        ) as response:
            assert response.status_code == 200
            seen = 0
            async for line in response.aiter_lines():
                if line.startswith("data: {") and '"content":"' in line and '"content":""' not in line:
                    seen += 1
                    if seen == 3:
                        break
    await asyncio.wait_for(gateway.openai_fake.stream_cancelled.wait(), timeout=10)
    rows = await gateway.rows_eventually(1)
    assert [r.status for r in rows] == ["cancelled"]
    assert rows[0].completion_tokens > 0 and rows[0].usage_estimated is True
    assert gateway.openai_fake.completed_streams == 0


async def test_models_list_shows_only_what_the_caller_may_use(gateway: Gateway) -> None:
    price = {"input_price_per_1k": "0.0025", "output_price_per_1k": "0.01"}
    assert (await gateway.admin.put("/api/v1/pricing/openai/gpt-4o", json=price)).status_code == 200
    pro = [m.id async for m in gateway.client(gateway.keys["professional"]).models.list()]
    trial = [m.id async for m in gateway.client(gateway.keys["trial"]).models.list()]
    assert "openai/gpt-4o" in pro
    assert "openai/gpt-4o" not in trial


async def test_embeddings(gateway: Gateway) -> None:
    client = gateway.client(gateway.keys["enterprise"])
    result = await client.embeddings.create(model="openai/text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2
    rows = await gateway.usage_rows()
    assert rows[0].model_id == "openai/text-embedding-3-small"


async def test_canary_keys_never_appear_in_responses_or_logs(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    user_key = gateway.keys["professional"]
    gateway.openai_fake.behavior.error_status = 401  # the upstream complains about its key
    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "openai/gpt-4o", "messages": HELLO},
            headers={"Authorization": f"Bearer {user_key}"},
        )
        providers = await gateway.admin.get("/api/v1/llm/providers")
    for text in (response.text, str(response.headers), providers.text, caplog.text):
        assert OPENAI_PROVIDER_KEY not in text
        assert user_key not in text
    rows = await gateway.usage_rows()
    assert all(OPENAI_PROVIDER_KEY not in (r.error_message or "") for r in rows)
