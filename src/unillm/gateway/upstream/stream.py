"""The streaming call shared by every adapter: open the upstream, decode its SSE events, let a
provider-specific translator turn each into OpenAI chunk bytes, and make failures explicit.

Before the first item reaches the caller an error is raised (so the gateway can answer with a JSON
error or fail over); after it, the stream ends with an SSE error event and `error` is set.
`aclose()` closes the upstream connection, so a client that goes away stops the generation.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Protocol

from unillm.errors import UpstreamError
from unillm.gateway.upstream.h1 import (
    H1Response,
    ReadTimeout,
    ServerDisconnected,
    TotalTimeout,
    UpstreamHttpError,
)
from unillm.gateway.upstream.http import read_json, scrub, transport_error
from unillm.gateway.upstream.sse import DONE, SSEDecoder, SSEEvent, error_event
from unillm.gateway.upstream.types import TokenUsage, UpstreamTarget


class StreamFailure(Exception):
    """The upstream reported an error inside the stream, or broke the stream's protocol."""

    def __init__(self, message: str, *, upstream_status: int | None = None, code: str = "upstream_error",
                 error_type: str = "upstream_error") -> None:
        super().__init__(message)
        self.message = message
        self.upstream_status = upstream_status
        self.code = code
        self.error_type = error_type


class Translator(Protocol):
    usage: TokenUsage | None
    text_chars: int
    done: bool

    def handle(self, event: SSEEvent) -> bytes | None:
        """OpenAI SSE bytes for one upstream event (None: nothing to send); sets `done` at the end."""

    def at_eof(self) -> bytes:
        """Called when the body ends before `done`: trailing bytes, or StreamFailure if incomplete."""


class RelayStream:
    """Implements `UpstreamStream`."""

    __slots__ = ("_gen", "_open", "_response", "_target", "_translator", "completion_text_chars",
                 "error", "first_byte_at", "usage")

    def __init__(self, open_response: Callable[[], Awaitable[H1Response]],
                 translator: Translator, target: UpstreamTarget) -> None:
        self.usage: TokenUsage | None = None
        self.first_byte_at: float | None = None
        self.completion_text_chars = 0
        self.error: str | None = None
        self._open = open_response
        self._translator = translator
        self._target = target
        self._response: H1Response | None = None
        self._gen: AsyncGenerator[bytes, None] = self._run()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        """Close the upstream connection (an unfinished generation is abandoned) and end iteration."""
        response = self._response
        if response is not None:
            response.close()
        try:
            await self._gen.aclose()
        except RuntimeError:  # being iterated by another task right now; the closed socket ends it
            pass

    def _sync(self) -> None:
        self.usage = self._translator.usage
        self.completion_text_chars = self._translator.text_chars

    async def _run(self) -> AsyncGenerator[bytes, None]:
        response = await self._open()
        self._response = response
        content_type = response.content_type
        if content_type in ("text/html", "application/json"):
            # an HTML page (a proxy or captive portal) or a JSON body where an event stream was asked for
            await read_json(response, self._target)  # raises on HTML or an error envelope
            raise UpstreamError(f"the {self._target.upstream_type} upstream answered a streaming request "
                                f"with {content_type} instead of an event stream")
        translator = self._translator
        decoder = SSEDecoder()
        sent = False
        clean = False
        try:
            try:
                async for chunk in response.iter_any():
                    out = [piece for event in decoder.feed(chunk)
                           if not translator.done and (piece := translator.handle(event)) is not None]
                    self._sync()
                    if out:
                        if not sent:
                            sent = True
                            self.first_byte_at = time.perf_counter()
                        yield out[0] if len(out) == 1 else b"".join(out)
                    if translator.done:
                        clean = True
                        return
                tail = b"".join(piece for event in decoder.flush()
                                if not translator.done and (piece := translator.handle(event)) is not None)
                if not translator.done:
                    tail += translator.at_eof()
                self._sync()
            except StreamFailure as failure:
                self._sync()
                message = scrub(failure.message, self._target)
                if not sent:
                    raise UpstreamError(message, upstream_status=failure.upstream_status) from None
                self.error = message
                yield error_event(message, code=failure.code, error_type=failure.error_type)
                return
            except UpstreamHttpError as exc:
                self._sync()
                if not sent:
                    raise transport_error(exc, self._target, what="waiting for the first event") from None
                message = scrub(_describe(exc), self._target)
                self.error = message
                yield error_event(message)
                return
            if tail:
                if not sent:
                    self.first_byte_at = time.perf_counter()
                yield tail
            clean = True
        finally:
            if clean:  # the terminating chunk may still be on its way after [DONE]
                response.release_after_end()
            else:
                response.close()


def _describe(exc: UpstreamHttpError) -> str:
    if isinstance(exc, ReadTimeout):
        return "the upstream stopped sending in the middle of the stream (read timeout)"
    if isinstance(exc, TotalTimeout):
        return "the upstream stream exceeded its total time limit"
    if isinstance(exc, ServerDisconnected):
        return "the upstream closed the connection in the middle of the stream"
    return f"the upstream stream failed: {type(exc).__name__}: {exc}"


__all__ = ["DONE", "RelayStream", "StreamFailure", "Translator"]
