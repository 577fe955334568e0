"""Refusing requests larger than the tier rule's `max_context_length`, before they reach an upstream.

The gateway has no tokenizer for every model, so the prompt size is estimated: text characters / 4
(rounded up), plus 4 tokens of framing per message, plus a fixed 85 tokens per image (OpenAI's
low-detail image cost). The estimate is said in the error so a caller can see why it was refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from unillm.errors import ContextLengthExceeded

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 85
IMAGE_PART_TYPES = frozenset({"image_url", "image", "input_image"})


def _content_size(content: Any) -> tuple[int, int]:
    """(text characters, images) of one message's content: a string or a list of parts."""
    if isinstance(content, str):
        return len(content), 0
    if not isinstance(content, list):
        return 0, 0
    chars = images = 0
    for part in content:
        if isinstance(part, str):
            chars += len(part)
        elif isinstance(part, dict):
            kind = part.get("type")
            if kind in IMAGE_PART_TYPES:
                images += 1
            elif isinstance(part.get("text"), str):
                chars += len(part["text"])
    return chars, images


def estimate_prompt_tokens(*, messages: Iterable[dict[str, Any]] | None, prompt: str | None) -> int:
    chars = images = count = 0
    for message in messages or ():
        count += 1
        if isinstance(message, dict):
            text, pictures = _content_size(message.get("content"))
            chars += text
            images += pictures
    if isinstance(prompt, str):
        chars += len(prompt)
    return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * count + TOKENS_PER_IMAGE * images


def check_context(*, messages: list[dict[str, Any]] | None, prompt: str | None, max_tokens: int | None,
                  max_context_length: int | None, limit_source: str | None = None) -> None:
    """Raise ContextLengthExceeded when max_tokens alone, or the estimated prompt plus max_tokens,
    exceeds `max_context_length` (None: no limit). `limit_source` names the rule in the message."""
    if max_context_length is None:
        return
    limit = f"limit {max_context_length:,}" + (f" of {limit_source}" if limit_source else "")
    if max_tokens is not None and max_tokens > max_context_length:
        raise ContextLengthExceeded(f"max_tokens {max_tokens:,} > {limit}", param="max_tokens")
    estimated = estimate_prompt_tokens(messages=messages, prompt=prompt)
    total = estimated + (max_tokens or 0)
    if total > max_context_length:
        how = "characters / 4 + 4 per message" + (", 85 per image" if _has_images(messages) else "")
        plus = f" + max_tokens {max_tokens:,}" if max_tokens else ""
        raise ContextLengthExceeded(
            f"estimated {estimated:,} prompt tokens ({how}){plus} > {limit}; shorten the messages"
            + (" or lower max_tokens" if max_tokens else ""),
            param="messages" if messages is not None or prompt is None else "prompt",
        )


def _has_images(messages: list[dict[str, Any]] | None) -> bool:
    return any(isinstance(m, dict) and _content_size(m.get("content"))[1] for m in messages or ())
