"""Default base URLs and the adapter chosen for each upstream type."""

from __future__ import annotations

import pytest

from unillm.errors import ConfigError, UpstreamError, UpstreamTimeout
from unillm.gateway.upstream import (
    UpstreamConnectTimeout,
    UpstreamTarget,
    UpstreamUnreachable,
    adapter_for,
    default_base_url,
    is_retryable,
    local_base_url,
)
from unillm.gateway.upstream.anthropic import AnthropicAdapter, messages_url
from unillm.gateway.upstream.http import scrub
from unillm.gateway.upstream.openai_compat import OpenAICompatAdapter


@pytest.mark.parametrize(("kind", "url"), [
    ("openai", "https://api.openai.com/v1"), ("openrouter", "https://openrouter.ai/api/v1"),
    ("groq", "https://api.groq.com/openai/v1"), ("together", "https://api.together.xyz/v1"),
    ("mistral", "https://api.mistral.ai/v1"),
    ("google", "https://generativelanguage.googleapis.com/v1beta/openai"),
    ("cohere", "https://api.cohere.ai/compatibility/v1"), ("anthropic", "https://api.anthropic.com"),
    ("custom", None), ("ollama", None)])
def test_default_base_urls(kind: str, url: str | None) -> None:
    assert default_base_url(kind) == url


@pytest.mark.parametrize("kind", ["openai", "custom", "google", "cohere", "ollama", "vllm", "lmstudio",
                                  "llamacpp"])
def test_openai_compatible_types(kind: str) -> None:
    assert isinstance(adapter_for(kind), OpenAICompatAdapter)


def test_anthropic_and_unknown() -> None:
    assert isinstance(adapter_for("anthropic"), AnthropicAdapter)
    with pytest.raises(ConfigError):
        adapter_for("bedrock")


def test_urls() -> None:
    assert local_base_url("127.0.0.1", 11434) == "http://127.0.0.1:11434/v1"
    assert local_base_url("::1", 8000) == "http://[::1]:8000/v1"
    assert messages_url("https://api.anthropic.com/") == "https://api.anthropic.com/v1/messages"
    assert messages_url("https://proxy.example/v1") == "https://proxy.example/v1/messages"


def test_retryable() -> None:
    assert is_retryable(UpstreamUnreachable("x"))
    assert is_retryable(UpstreamConnectTimeout("x"))
    assert not is_retryable(UpstreamTimeout("x"))
    assert is_retryable(UpstreamError("x", upstream_status=503))
    assert not is_retryable(UpstreamError("x", upstream_status=401))
    assert not is_retryable(UpstreamError("x"))


def test_target_repr_hides_the_key_and_scrub() -> None:
    target = UpstreamTarget(upstream_type="openai", base_url="https://x", api_key="sk-secret-value-123",
                            upstream_model="m")
    assert "sk-secret" not in repr(target)
    text = scrub("key sk-secret-value-123, other sk-proj-abcdefghij, Bearer abc.def, https://u:pw@h/", target)
    assert "secret" not in text and "abcdefghij" not in text and "abc.def" not in text and "pw" not in text


def test_make_target_takes_known_timeouts_only() -> None:
    from unillm.gateway.upstream import make_target

    target = make_target(upstream_type="openai", base_url="https://x", api_key=None, upstream_model="m",
                         timeouts={"first_byte_timeout": 9, "bogus": 1})
    assert (target.connect_timeout, target.first_byte_timeout, target.total_timeout) == (5, 9.0, 600)


def test_scrub_known_key_shapes() -> None:
    target = UpstreamTarget(upstream_type="openai", base_url="https://x", api_key=None, upstream_model="m")
    keys = ["ulm-" + "a" * 40, "sk-ant-api03-abcdefgh", "gsk_abcdefghijkl", "AIzaSyA-abcdefghijklmnopqrstu"]
    text = scrub("keys: " + ", ".join(keys), target)
    assert not any(k in text for k in keys)
    assert text.startswith("keys: ***")
