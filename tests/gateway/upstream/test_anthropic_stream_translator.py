"""The Anthropic stream translator on a recorded event sequence: role chunk held until content,
text, thinking and tool-call deltas, cumulative usage with cache tokens, the finish chunk."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from unillm.gateway.upstream.anthropic import AnthropicStreamTranslator
from unillm.gateway.upstream.sse import SSEDecoder
from unillm.gateway.upstream.stream import StreamFailure
from unillm.gateway.upstream.types import TokenUsage


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\n".encode() + b"data: " + orjson.dumps({"type": event, **data}) + b"\n\n"


RECORDED = b"".join([
    sse("message_start", {"message": {"id": "msg_1", "type": "message", "role": "assistant",
                                      "model": "claude-x", "content": [], "stop_reason": None,
                                      "usage": {"input_tokens": 5, "cache_read_input_tokens": 50,
                                                "cache_creation_input_tokens": 0, "output_tokens": 1}}}),
    sse("ping", {}),
    sse("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
    sse("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
    sse("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "sig"}}),
    sse("content_block_stop", {"index": 0}),
    sse("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
    sse("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "Let me look."}}),
    sse("content_block_stop", {"index": 1}),
    sse("content_block_start", {"index": 2, "content_block": {"type": "tool_use", "id": "toolu_9",
                                                              "name": "search", "input": {}}}),
    *(sse("content_block_delta", {"index": 2, "delta": {"type": "input_json_delta", "partial_json": part}})
      for part in ("", '{"q": ', '"cats"}')),
    sse("content_block_stop", {"index": 2}),
    sse("message_delta", {"delta": {"stop_reason": "tool_use", "stop_sequence": None},
                          "usage": {"output_tokens": 42}}),
    sse("message_stop", {}),
])


def run(raw: bytes, *, keep_usage: bool, cut: int | None = None) -> tuple[AnthropicStreamTranslator, bytes]:
    translator = AnthropicStreamTranslator(keep_usage)
    decoder = SSEDecoder()
    pieces = [raw] if cut is None else [raw[:cut], raw[cut:]]
    out = b""
    for piece in pieces:
        for event in decoder.feed(piece):
            out += translator.handle(event) or b""
    return translator, out


def chunks(out: bytes) -> list[dict[str, Any]]:
    data = [e[len(b"data: "):] for e in out.split(b"\n\n") if e]
    assert data[-1] == b"[DONE]"
    return [orjson.loads(d) for d in data[:-1]]


def test_translation_of_a_recorded_stream() -> None:
    translator, out = run(RECORDED, keep_usage=True)
    result = chunks(out)
    assert result[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert result[0]["id"] == "msg_1" and result[0]["model"] == "claude-x"
    deltas = [c["choices"][0]["delta"] for c in result if c["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Hmm."
    assert "".join(d.get("content") or "" for d in deltas) == "Let me look."
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    assert calls[0] == {"index": 0, "id": "toolu_9", "type": "function",
                        "function": {"name": "search", "arguments": ""}}
    assert orjson.loads("".join(c["function"]["arguments"] for c in calls)) == {"q": "cats"}
    assert result[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert result[-1]["choices"] == []
    assert result[-1]["usage"] == {"prompt_tokens": 55, "completion_tokens": 42, "total_tokens": 97,
                                   "prompt_tokens_details": {"cached_tokens": 50}}
    assert translator.usage == TokenUsage(prompt_tokens=55, completion_tokens=42, cached_prompt_tokens=50)
    assert translator.done


def test_every_split_point_gives_the_same_output() -> None:
    def without_created(out: bytes) -> list[dict[str, Any]]:
        return [{k: v for k, v in c.items() if k != "created"} for c in chunks(out)]

    whole = without_created(run(RECORDED, keep_usage=False)[1])
    for cut in range(0, len(RECORDED), 7):
        assert without_created(run(RECORDED, keep_usage=False, cut=cut)[1]) == whole


def test_nothing_is_emitted_before_content() -> None:
    start = RECORDED.split(b"event: content_block_start")[0]
    translator, out = run(start, keep_usage=False)
    assert out == b""
    with pytest.raises(StreamFailure, match="before it finished"):
        translator.at_eof()


def test_error_event() -> None:
    raw = sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
    with pytest.raises(StreamFailure) as caught:
        run(raw, keep_usage=False)
    assert caught.value.upstream_status == 529
