"""OpenAI ↔ Anthropic translation as pure functions: system prompts, role merging, tools, images,
stop reasons and usage."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from unillm.errors import BadRequest, NotSupported
from unillm.gateway.upstream.anthropic_translate import (
    DEFAULT_MAX_TOKENS,
    finish_reason,
    to_anthropic_request,
    to_openai_response,
    translate_messages,
)

TOOLS: list[dict[str, Any]] = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def test_system_and_developer_become_top_level_system() -> None:
    request = to_anthropic_request({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "Hi"}]}, "claude-x", stream=False)
    assert request["system"] == "Be brief.\n\nAnswer in French."
    assert request["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert request["model"] == "claude-x"
    assert request["max_tokens"] == DEFAULT_MAX_TOKENS
    assert "stream" not in request


def test_system_with_cache_control_stays_blocks() -> None:
    block = {"type": "text", "text": "Long context", "cache_control": {"type": "ephemeral"}}
    request = to_anthropic_request({"messages": [{"role": "system", "content": [block]},
                                                 {"role": "user", "content": "q"}]}, "m", stream=True)
    assert request["system"] == [block]
    assert request["stream"] is True


def test_consecutive_same_role_messages_merge() -> None:
    _, messages = translate_messages([
        {"role": "user", "content": "a"}, {"role": "user", "content": "b"},
        {"role": "assistant", "content": "c"}, {"role": "user", "content": "d"}])
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]


def test_tool_round_trip_messages() -> None:
    system, messages = translate_messages([
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "22C"}]},
        {"role": "user", "content": "Thanks"},
    ])
    assert system == []
    assert messages[1] == {"role": "assistant", "content": [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}}]}
    assert messages[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "22C"}]},
        {"type": "text", "text": "Thanks"}]}
    assert len(messages) == 3


def test_assistant_with_only_tool_calls_has_no_text_block() -> None:
    _, messages = translate_messages([
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}]}])
    assert messages[1]["content"] == [{"type": "tool_use", "id": "c", "name": "f", "input": {}}]


def test_bad_tool_arguments_are_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        translate_messages([{"role": "assistant", "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": "{nope"}}]}])


def test_images_data_url_and_http_url() -> None:
    _, messages = translate_messages([{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}}]}])
    assert messages[0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]


def test_malformed_data_url_and_unknown_part() -> None:
    with pytest.raises(BadRequest):
        translate_messages([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}}]}])
    with pytest.raises(NotSupported):
        translate_messages([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}])


def test_tools_tool_choice_and_sampling() -> None:
    request = to_anthropic_request({
        "messages": [{"role": "user", "content": "x"}], "tools": TOOLS, "tool_choice": "required",
        "parallel_tool_calls": False, "stop": "END", "temperature": 0.2, "top_p": 0.9,
        "max_completion_tokens": 99, "user": "u-1", "response_format": {"type": "text"}}, "m", stream=False)
    assert request["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                                 "input_schema": TOOLS[0]["function"]["parameters"]}]
    assert request["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert request["stop_sequences"] == ["END"]
    assert (request["temperature"], request["top_p"], request["max_tokens"]) == (0.2, 0.9, 99)
    assert request["metadata"] == {"user_id": "u-1"}
    assert "response_format" not in request


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", {"type": "auto"}), ("none", {"type": "none"}),
    ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
])
def test_tool_choice_mapping(choice: object, expected: dict[str, object]) -> None:
    request = to_anthropic_request({"messages": [{"role": "user", "content": "x"}], "tools": TOOLS,
                                    "tool_choice": choice, "stop": ["a", "b"]}, "m", stream=False)
    assert request["tool_choice"] == expected
    assert request["stop_sequences"] == ["a", "b"]


def test_n_above_one_is_not_supported() -> None:
    with pytest.raises(NotSupported):
        to_anthropic_request({"messages": [{"role": "user", "content": "x"}], "n": 2}, "m", stream=False)


@pytest.mark.parametrize(("stop", "finish"), [
    ("end_turn", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"), ("stop_sequence", "stop"),
    ("refusal", "content_filter"), (None, None)])
def test_finish_reason_mapping(stop: str | None, finish: str | None) -> None:
    assert finish_reason(stop) == finish


def test_response_with_text_tools_and_cache_usage() -> None:
    completion, usage = to_openai_response({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 20}}, created=1700000000)
    assert completion["object"] == "chat.completion"
    assert completion["created"] == 1700000000
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Checking."
    call = choice["message"]["tool_calls"][0]
    assert call["id"] == "toolu_1"
    assert call["function"]["name"] == "get_weather"
    assert orjson.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert completion["usage"] == {"prompt_tokens": 130, "completion_tokens": 5, "total_tokens": 135,
                                   "prompt_tokens_details": {"cached_tokens": 100}}
    assert (usage.prompt_tokens, usage.cached_prompt_tokens, usage.cache_creation_tokens) == (130, 100, 20)


def test_response_with_only_tool_use_has_null_content() -> None:
    completion, _ = to_openai_response({
        "id": "m", "model": "c", "stop_reason": "tool_use", "usage": {},
        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]})
    assert completion["choices"][0]["message"]["content"] is None
