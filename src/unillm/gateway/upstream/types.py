"""The values that cross the boundary between the gateway pipeline and the upstream adapters.

Plain slotted dataclasses (no Pydantic) because one of each is built per request on the hot path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from unillm.errors import UpstreamError, UpstreamTimeout
from unillm.gateway.upstream.h1 import UpstreamHttp


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    """Where and how to call one upstream. `first_byte_timeout` bounds, for a stream, the wait for
    the response and then every gap between two reads; a JSON call is bounded by `total_timeout`
    only, since a non-streaming upstream sends nothing until the whole completion is ready."""

    upstream_type: str
    base_url: str
    api_key: str | None = field(repr=False)
    upstream_model: str
    connect_timeout: float = 5
    first_byte_timeout: float = 60
    total_timeout: float = 600
    extra_headers: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class TokenUsage:
    """Token counts as billed. `prompt_tokens` includes cached and cache-creation tokens (OpenAI's
    convention), so `cached_prompt_tokens` is a part of it, not an addition."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cache_creation_tokens: int = 0
    estimated: bool = False


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    body: bytes  # OpenAI-shaped JSON, ready for the client
    usage: TokenUsage | None


class UpstreamStream(Protocol):
    """OpenAI SSE bytes (`data: {...}\\n\\n` … `data: [DONE]\\n\\n`), each item one or more whole events.

    An error before the first item raises `UpstreamError`; after it, the stream ends with a
    `data: {"error": {...}}` event and `error` is set. The attributes are filled while iterating."""

    usage: TokenUsage | None
    first_byte_at: float | None  # time.perf_counter() when the first item was produced
    completion_text_chars: int
    error: str | None

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


class ChatAdapter(Protocol):
    async def complete(self, http: UpstreamHttp, target: UpstreamTarget,
                       body: dict[str, Any]) -> UpstreamResponse: ...

    def stream(self, http: UpstreamHttp, target: UpstreamTarget,
               body: dict[str, Any]) -> UpstreamStream: ...

    async def embeddings(self, http: UpstreamHttp, target: UpstreamTarget,
                         body: dict[str, Any]) -> UpstreamResponse: ...


TIMEOUT_FIELDS = ("connect_timeout", "first_byte_timeout", "total_timeout")


def make_target(*, upstream_type: str, base_url: str, api_key: str | None, upstream_model: str,
                timeouts: Mapping[str, float] | None = None,
                extra_headers: tuple[tuple[str, str], ...] = ()) -> UpstreamTarget:
    """An UpstreamTarget with the timeouts a provider's metadata overrides (unknown keys ignored)."""
    chosen = {k: float(v) for k, v in (timeouts or {}).items() if k in TIMEOUT_FIELDS}
    return UpstreamTarget(upstream_type=upstream_type, base_url=base_url, api_key=api_key,
                          upstream_model=upstream_model, extra_headers=extra_headers, **chosen)


class UpstreamUnreachable(UpstreamError):
    """The upstream could not be reached (refused, reset, DNS): nothing was generated, so another
    target may be tried."""


class UpstreamConnectTimeout(UpstreamTimeout):
    """No connection within `connect_timeout`: nothing was sent, so another target may be tried."""


RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 522, 524, 529})


def is_retryable(exc: UpstreamError) -> bool:
    """Whether another target may be tried: the upstream was unreachable, or it refused the call
    in a way another upstream would not (rate limit, overload, a server fault) before any byte
    reached the client. A first-byte timeout is not retried: a second slow wait rarely helps."""
    if isinstance(exc, UpstreamUnreachable | UpstreamConnectTimeout):
        return True
    status = exc.upstream_status
    return status is not None and (status in RETRYABLE_STATUSES or status >= 500)
