"""The typed view of an OpenAI request body that the pipeline needs; every other field passes through.

Parsing is hand-written over the orjson dict (no Pydantic model on the hot path): the gateway reads
five fields and forwards the rest untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from unillm.errors import BadRequest


@dataclass(frozen=True, slots=True)
class ChatRequest:
    body: dict[str, Any]
    model: str
    stream: bool
    include_usage: bool
    max_tokens: int | None
    messages: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    body: dict[str, Any]
    model: str
    input_text: str


def _load_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _model_of(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("'model' is required: a model id such as 'openai/gpt-4o' or a deployment alias",
                         param="model")
    return model.strip()


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest(f"'{name}' must be a positive integer", param=name)
    return value


def parse_chat(raw: bytes) -> ChatRequest:
    body = _load_object(raw)
    model = _model_of(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise BadRequest("'messages' must be a non-empty array of message objects", param="messages")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false", param="stream")
    options = body.get("stream_options")
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    max_tokens = _optional_int(body, "max_completion_tokens") or _optional_int(body, "max_tokens")
    return ChatRequest(body=body, model=model, stream=stream, include_usage=include_usage,
                       max_tokens=max_tokens, messages=messages)


def parse_embeddings(raw: bytes) -> EmbeddingsRequest:
    body = _load_object(raw)
    model = _model_of(body)
    value = body.get("input")
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        text = "\n".join(value)
    elif isinstance(value, list) and value:
        text = ""  # token arrays: counted by the upstream's usage
    else:
        raise BadRequest("'input' must be a string, an array of strings or of token arrays", param="input")
    return EmbeddingsRequest(body=body, model=model, input_text=text)


def message_text_chars(messages: list[dict[str, Any]]) -> int:
    """Characters of text in the messages, for estimating prompt tokens when an upstream gives none."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    total += len(part["text"])
    return total


def completion_chars(response_body: bytes) -> int:
    """Characters of text in a chat completion, parsed only when an upstream reported no usage."""
    try:
        parsed = orjson.loads(response_body)
    except orjson.JSONDecodeError:
        return 0
    choices = parsed.get("choices") if isinstance(parsed, dict) else None
    if not isinstance(choices, list):
        return 0
    return message_text_chars([c["message"] for c in choices
                               if isinstance(c, dict) and isinstance(c.get("message"), dict)])


def estimate_tokens(chars: int) -> int:
    """About four characters a token for English text: the same rule as the context-limit estimate."""
    return (chars + 3) // 4
