"""Upstream adapters: call OpenAI-compatible and Anthropic APIs and hand back OpenAI-shaped bytes.

    adapter = adapter_for(target.upstream_type)
    response = await adapter.complete(http, target, body)       # UpstreamResponse
    stream = adapter.stream(http, target, body)                 # UpstreamStream (async iterator of bytes)
"""

from unillm.gateway.upstream.defaults import (
    DEFAULT_BASE_URLS,
    LOCAL_TYPES,
    UPSTREAM_TYPES,
    adapter_for,
    default_base_url,
    local_base_url,
)
from unillm.gateway.upstream.types import (
    ChatAdapter,
    TokenUsage,
    UpstreamConnectTimeout,
    UpstreamResponse,
    UpstreamStream,
    UpstreamTarget,
    UpstreamUnreachable,
    is_retryable,
    make_target,
)

__all__ = [
    "DEFAULT_BASE_URLS",
    "LOCAL_TYPES",
    "UPSTREAM_TYPES",
    "ChatAdapter",
    "TokenUsage",
    "UpstreamConnectTimeout",
    "UpstreamResponse",
    "UpstreamStream",
    "UpstreamTarget",
    "UpstreamUnreachable",
    "adapter_for",
    "default_base_url",
    "is_retryable",
    "local_base_url",
    "make_target",
]
