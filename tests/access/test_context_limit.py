"""The context-size check: refuses requests whose max_tokens, or estimated prompt plus max_tokens,
exceed the tier rule's max_context_length, and says how the size was estimated."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unillm.access.context_limit import check_context, estimate_prompt_tokens
from unillm.errors import ContextLengthExceeded


def text_message(chars: int, role: str = "user") -> dict[str, Any]:
    return {"role": role, "content": "x" * chars}


def test_no_limit_never_refuses() -> None:
    check_context(messages=[text_message(10**6)], prompt=None, max_tokens=10**9, max_context_length=None)


def test_max_tokens_alone_over_the_limit() -> None:
    with pytest.raises(ContextLengthExceeded) as caught:
        check_context(messages=[], prompt=None, max_tokens=10_000, max_context_length=8192,
                      limit_source="tier rule 'ollama/*'")
    assert caught.value.param == "max_tokens" and caught.value.code == "context_length_exceeded"
    assert caught.value.message == "max_tokens 10,000 > limit 8,192 of tier rule 'ollama/*'"
    assert caught.value.status_code == 400


def test_estimated_prompt_plus_max_tokens_over_the_limit_explains_the_estimate() -> None:
    # 20,824 characters in one message: 5,206 + 4 = 5,210 estimated tokens.
    messages = [text_message(20_824)]
    assert estimate_prompt_tokens(messages=messages, prompt=None) == 5210
    with pytest.raises(ContextLengthExceeded) as caught:
        check_context(messages=messages, prompt=None, max_tokens=4096, max_context_length=8192,
                      limit_source="tier rule 'ollama/*'")
    assert caught.value.param == "messages"
    assert caught.value.message.startswith(
        "estimated 5,210 prompt tokens (characters / 4 + 4 per message) + max_tokens 4,096 > limit 8,192 "
        "of tier rule 'ollama/*'")


def test_exactly_at_the_limit_is_admitted() -> None:
    messages = [text_message(4 * 96)]  # 96 + 4 = 100 tokens
    check_context(messages=messages, prompt=None, max_tokens=100, max_context_length=200)
    with pytest.raises(ContextLengthExceeded):
        check_context(messages=messages, prompt=None, max_tokens=101, max_context_length=200)


def test_without_max_tokens_the_prompt_alone_is_checked() -> None:
    check_context(messages=[text_message(396)], prompt=None, max_tokens=None, max_context_length=103)
    with pytest.raises(ContextLengthExceeded, match="estimated 104 prompt tokens") as caught:
        check_context(messages=[text_message(400)], prompt=None, max_tokens=None, max_context_length=103)
    assert "max_tokens" not in caught.value.message and "limit 103;" in caught.value.message


def test_only_text_counts_and_images_count_85() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "abcd"},
        {"role": "user", "content": [
            {"type": "text", "text": "abcdefgh"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100_000}},
            {"type": "input_audio", "input_audio": {"data": "B" * 50_000}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": "z" * 400}}]},
    ]
    # text 12 chars -> 3, 3 messages -> 12, one image -> 85
    assert estimate_prompt_tokens(messages=messages, prompt=None) == 100
    with pytest.raises(ContextLengthExceeded, match=r"4 per message, 85 per image"):
        check_context(messages=messages, prompt=None, max_tokens=1, max_context_length=100)


def test_a_plain_prompt_is_estimated_too() -> None:
    assert estimate_prompt_tokens(messages=None, prompt="a" * 9) == 3
    with pytest.raises(ContextLengthExceeded) as caught:
        check_context(messages=None, prompt="a" * 400, max_tokens=None, max_context_length=99)
    assert caught.value.param == "prompt"


@given(sizes=st.lists(st.integers(0, 2000), max_size=8), max_tokens=st.none() | st.integers(0, 5000),
       limit=st.integers(0, 6000))
def test_refuses_exactly_when_the_estimate_is_over(sizes: list[int], max_tokens: int | None,
                                                   limit: int) -> None:
    messages = [text_message(size) for size in sizes]
    expected_tokens = -(-sum(sizes) // 4) + 4 * len(sizes)
    over = (max_tokens or 0) > limit or expected_tokens + (max_tokens or 0) > limit
    if over:
        with pytest.raises(ContextLengthExceeded):
            check_context(messages=messages, prompt=None, max_tokens=max_tokens, max_context_length=limit)
    else:
        check_context(messages=messages, prompt=None, max_tokens=max_tokens, max_context_length=limit)
