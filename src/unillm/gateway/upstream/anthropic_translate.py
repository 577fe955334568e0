"""Pure translation between OpenAI chat requests/responses and Anthropic's Messages API.

No I/O, so every rule (system prompts, role merging, tools, images, stop reasons, usage) is tested
on plain dicts. Anthropic differs from OpenAI in ways a client must not see: the system prompt is a
top-level field, roles must alternate, tool results travel in a user message, `max_tokens` is
required, and prompt tokens are split into uncached, cache-read and cache-creation counts.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from unillm.errors import BadRequest, NotSupported
from unillm.gateway.upstream.types import TokenUsage

DEFAULT_MAX_TOKENS = 4096
FINISH_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls", "refusal": "content_filter",
}
# Anthropic fields a client may send as-is. Not `metadata` or `service_tier`: OpenAI has fields of
# those names with other meanings, which Anthropic would refuse.
PASSTHROUGH = ("top_k", "thinking")


def finish_reason(stop_reason: str | None) -> str | None:
    return None if stop_reason is None else FINISH_REASONS.get(stop_reason, "stop")


def _text_of(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise BadRequest(f"{where}: content must be a string or an array of content parts", param="messages")


def _image_block(part: dict[str, Any]) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise BadRequest("an image_url part needs a url", param="messages")
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";", 1)[0]
        if ";base64" not in header or not media_type or not data:
            raise BadRequest("an image data URL must be 'data:<media type>;base64,<data>'", param="messages")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _content_blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequest("message content must be a string or an array of content parts", param="messages")
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if not part.get("text"):
                continue  # Anthropic refuses empty text blocks
            block: dict[str, Any] = {"type": "text", "text": part["text"]}
            if "cache_control" in part:
                block["cache_control"] = part["cache_control"]
            blocks.append(block)
        elif kind == "image_url":
            blocks.append(_image_block(part))
        else:
            raise NotSupported(f"content parts of type {kind!r} cannot be sent to an Anthropic model",
                               param="messages")
    return blocks


def _tool_use_blocks(tool_calls: Any) -> list[dict[str, Any]]:
    blocks = []
    for call in tool_calls or ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise BadRequest("each tool call needs a function with a name", param="messages")
        arguments = function.get("arguments") or "{}"
        try:
            parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
        except orjson.JSONDecodeError:
            raise BadRequest("a tool call's arguments are not valid JSON", param="messages") from None
        blocks.append({"type": "tool_use", "id": call.get("id") or "", "name": function["name"],
                       "input": parsed if isinstance(parsed, dict) else {}})
    return blocks


def _tool_result_block(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    result: Any = content if isinstance(content, str) else _content_blocks(content)
    return {"type": "tool_result", "tool_use_id": message.get("tool_call_id") or "", "content": result}


def translate_messages(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI messages → (Anthropic system blocks, Anthropic messages with alternating roles)."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(b for b in _content_blocks(message.get("content")) if b["type"] == "text")
            continue
        if role == "user":
            new_role, blocks = "user", _content_blocks(message.get("content"))
        elif role == "assistant":
            new_role = "assistant"
            blocks = _content_blocks(message.get("content")) + _tool_use_blocks(message.get("tool_calls"))
        elif role == "tool":
            new_role, blocks = "user", [_tool_result_block(message)]
        else:
            raise BadRequest(f"messages with role {role!r} cannot be sent to an Anthropic model",
                             param="messages")
        if not blocks:
            continue
        if out and out[-1]["role"] == new_role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": new_role, "content": blocks})
    for message in out:  # tool results must come first in a user message
        content = message["content"]
        if message["role"] == "user" and any(b["type"] == "tool_result" for b in content):
            content.sort(key=lambda b: b["type"] != "tool_result")
    return system, out


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise BadRequest("each tool needs a function with a name", param="tools")
        entry: dict[str, Any] = {
            "name": function["name"],
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            entry["description"] = function["description"]
        out.append(entry)
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    result: dict[str, Any] | None
    if choice is None:
        result = None
    elif choice == "auto":
        result = {"type": "auto"}
    elif choice == "required":
        result = {"type": "any"}
    elif choice == "none":
        result = {"type": "none"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        result = {"type": "tool", "name": choice["function"].get("name")}
    else:
        raise BadRequest("tool_choice must be 'auto', 'required', 'none' or a function", param="tool_choice")
    if parallel is False and (result is None or result["type"] != "none"):
        result = {**(result or {"type": "auto"}), "disable_parallel_tool_use": True}
    return result


def to_anthropic_request(body: dict[str, Any], model: str, *, stream: bool) -> dict[str, Any]:
    """An OpenAI chat request → an Anthropic /v1/messages request for `model`."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadRequest("'messages' must be an array", param="messages")
    if (body.get("n") or 1) != 1:
        raise NotSupported("Anthropic models return one choice; 'n' must be 1", param="n")
    system, converted = translate_messages(messages)
    request: dict[str, Any] = {
        "model": model, "messages": converted,
        "max_tokens": body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS,
    }
    if system:
        cached = any("cache_control" in b for b in system)
        request["system"] = system if cached else "\n\n".join(b["text"] for b in system)
    stop = body.get("stop")
    if stop:
        request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    for name in ("temperature", "top_p", *PASSTHROUGH):
        if body.get(name) is not None:
            request[name] = body[name]
    if body.get("user"):
        request["metadata"] = {"user_id": str(body["user"])}
    if body.get("tools"):
        request["tools"] = _tools(body["tools"])
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None and body.get("tools"):
        request["tool_choice"] = choice
    if stream:
        request["stream"] = True
    return request


def usage_from_anthropic(usage: Any) -> TokenUsage:
    usage = usage if isinstance(usage, dict) else {}
    cache_read = usage.get("cache_read_input_tokens") or 0
    cache_creation = usage.get("cache_creation_input_tokens") or 0
    return TokenUsage(prompt_tokens=(usage.get("input_tokens") or 0) + cache_read + cache_creation,
                      completion_tokens=usage.get("output_tokens") or 0,
                      cached_prompt_tokens=cache_read, cache_creation_tokens=cache_creation)


def openai_usage(usage: TokenUsage) -> dict[str, Any]:
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cached_prompt_tokens}}


def tool_call(block: dict[str, Any]) -> dict[str, Any]:
    return {"id": block.get("id"), "type": "function",
            "function": {"name": block.get("name"),
                         "arguments": orjson.dumps(block.get("input") or {}).decode()}}


def to_openai_response(message: dict[str, Any], *,
                       created: int | None = None) -> tuple[dict[str, Any], TokenUsage]:
    """An Anthropic message → (an OpenAI chat.completion, its usage)."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "thinking":
            reasoning.append(block.get("thinking", ""))
        elif kind == "tool_use":
            calls.append(tool_call(block))
    reply: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None,
                             "refusal": None}
    if reasoning:
        reply["reasoning_content"] = "".join(reasoning)
    if calls:
        reply["tool_calls"] = calls
    usage = usage_from_anthropic(message.get("usage"))
    completion = {
        "id": message.get("id") or "", "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": message.get("model") or "",
        "choices": [{"index": 0, "message": reply, "logprobs": None,
                     "finish_reason": finish_reason(message.get("stop_reason"))}],
        "usage": openai_usage(usage),
    }
    return completion, usage
