"""The second half of the pipeline: pick a target, call it, and fail over to the next target on a
connection error or a 5xx before the first byte; a failing target goes into cooldown."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from unillm.deployment.routing import RouteTarget
from unillm.errors import NoHealthyDeployment, UpstreamError
from unillm.gateway.admission import Admission
from unillm.gateway.state import GatewayState
from unillm.gateway.upstream import UpstreamResponse, UpstreamStream, adapter_for, is_retryable

T = TypeVar("T")


@dataclass(slots=True)
class StreamStart:
    target: RouteTarget
    stream: UpstreamStream
    first_chunk: bytes | None
    first_byte_at: float


def _no_target_error(admission: Admission, last_error: UpstreamError | None) -> Exception:
    if last_error is not None:
        return last_error
    if not admission.targets:
        return NoHealthyDeployment(
            f"no healthy deployment serves {admission.canonical_model}: no enabled provider or healthy "
            "server has it; add a provider, or install and sync the model on a server")
    return NoHealthyDeployment(
        f"every target for {admission.canonical_model} is cooling down after failures; retry shortly")


async def _with_failover(state: GatewayState, admission: Admission,
                         attempt: Callable[[RouteTarget], Awaitable[T]]) -> tuple[RouteTarget, T]:
    """Run `attempt` on the best target, then the next, while failures are retryable."""
    tried: set[str] = set()
    last_error: UpstreamError | None = None
    while True:
        target = state.picker.acquire(admission.targets, exclude=tried)
        if target is None:
            raise _no_target_error(admission, last_error)
        tried.add(target.key)
        try:
            return target, await attempt(target)
        except UpstreamError as exc:
            state.picker.release(target, ok=False)
            if not is_retryable(exc):
                raise
            state.picker.cooldown(target, state.runtime.settings.gateway_cooldown_seconds)
            last_error = exc


async def complete(state: GatewayState, admission: Admission, body: dict[str, Any],
                   operation: str = "chat") -> tuple[RouteTarget, UpstreamResponse]:
    assert state.http is not None
    http = state.http

    async def attempt(target: RouteTarget) -> UpstreamResponse:
        adapter = adapter_for(target.upstream_type)
        upstream = state.upstream_target(target)
        if operation == "embeddings":
            return await adapter.embeddings(http, upstream, body)
        return await adapter.complete(http, upstream, body)

    target, response = await _with_failover(state, admission, attempt)
    state.picker.release(target, ok=True)
    return target, response


async def open_stream(state: GatewayState, admission: Admission, body: dict[str, Any]) -> StreamStart:
    """Open a stream and read its first chunk, so an error before the first byte is still a JSON error
    with its status (and may fail over) rather than a 200 stream. The target stays acquired until the
    relay finishes."""
    assert state.http is not None
    http = state.http

    async def attempt(target: RouteTarget) -> StreamStart:
        stream = adapter_for(target.upstream_type).stream(http, state.upstream_target(target), body)
        try:
            first: bytes | None = await stream.__anext__()
        except StopAsyncIteration:
            first = None
        except UpstreamError:
            await stream.aclose()
            raise
        return StreamStart(target=target, stream=stream, first_chunk=first,
                           first_byte_at=stream.first_byte_at or time.perf_counter())

    return (await _with_failover(state, admission, attempt))[1]
