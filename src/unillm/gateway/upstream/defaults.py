"""What each upstream type needs by default: its base URL, and which adapter speaks its API."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from unillm.errors import ConfigError
from unillm.provider.schemas import DEFAULT_BASE_URLS as PROVIDER_DEFAULT_BASE_URLS

if TYPE_CHECKING:
    from unillm.gateway.upstream.types import ChatAdapter

# One table for the whole project, kept by the provider domain (which the gateway may import; the
# reverse is not allowed). Read-only here: the gateway never changes it.
DEFAULT_BASE_URLS = MappingProxyType(PROVIDER_DEFAULT_BASE_URLS)
CLOUD_TYPES = frozenset({*DEFAULT_BASE_URLS, "custom"})
LOCAL_TYPES = frozenset({"ollama", "vllm", "lmstudio", "llamacpp"})
UPSTREAM_TYPES = CLOUD_TYPES | LOCAL_TYPES
# Mistral and Cohere reject `stream_options` (422/400 "extra inputs are not permitted"); Mistral
# sends usage in its last chunk anyway.
NO_STREAM_OPTIONS = frozenset({"mistral", "cohere"})


def default_base_url(upstream_type: str) -> str | None:
    """The provider's public endpoint; None for `custom` and local servers (they need a URL)."""
    return DEFAULT_BASE_URLS.get(upstream_type)


def local_base_url(host: str, port: int) -> str:
    """The OpenAI-compatible root of a local model server (all four serve it under /v1)."""
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{host}:{port}/v1"


def sends_stream_options(upstream_type: str) -> bool:
    return upstream_type not in NO_STREAM_OPTIONS


def adapter_for(upstream_type: str) -> ChatAdapter:
    """The adapter for an upstream type. Adapters are stateless; these are cheap to return."""
    from unillm.gateway.upstream.anthropic import ANTHROPIC
    from unillm.gateway.upstream.openai_compat import OPENAI_COMPAT

    if upstream_type == "anthropic":
        return ANTHROPIC
    if upstream_type in UPSTREAM_TYPES:
        return OPENAI_COMPAT
    raise ConfigError(f"unknown upstream type {upstream_type!r}; expected one of {sorted(UPSTREAM_TYPES)}")
