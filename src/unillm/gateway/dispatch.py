"""The second half of the pipeline: pick a target, call it, and fail over to the next target on a
connection error or a 5xx before the first byte; a failing target goes into cooldown."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from unillm.deployment.routing import RouteTarget
from unillm.errors import NoHealthyDeployment, UpstreamError
from unillm.gateway.admission import Admission
from unillm.gateway.state import GatewayState
from unillm.gateway.upstream import UpstreamResponse, UpstreamStream, adapter_for, is_retryable


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


async def complete(state: GatewayState, admission: Admission, body: dict[str, Any],
                   operation: str = "chat") -> tuple[RouteTarget, UpstreamResponse]:
    tried: set[str] = set()
    last_error: UpstreamError | None = None
    assert state.http is not None
    while True:
        target = state.picker.acquire(admission.targets, exclude=tried)
        if target is None:
            raise _no_target_error(admission, last_error)
        tried.add(target.key)
        adapter = adapter_for(target.upstream_type)
        upstream = state.upstream_target(target)
        try:
            if operation == "embeddings":
                response = await adapter.embeddings(state.http, upstream, body)
            else:
                response = await adapter.complete(state.http, upstream, body)
        except UpstreamError as exc:
            state.picker.release(target, ok=False)
            if is_retryable(exc):
                state.picker.cooldown(target, state.runtime.settings.gateway_cooldown_seconds)
                last_error = exc
                continue
            raise
        state.picker.release(target, ok=True)
        return target, response


async def open_stream(state: GatewayState, admission: Admission, body: dict[str, Any]) -> StreamStart:
    """Open a stream and read its first chunk, so an error before the first byte is still a JSON error
    with its status (and may fail over) rather than a 200 stream."""
    tried: set[str] = set()
    last_error: UpstreamError | None = None
    assert state.http is not None
    while True:
        target = state.picker.acquire(admission.targets, exclude=tried)
        if target is None:
            raise _no_target_error(admission, last_error)
        tried.add(target.key)
        stream = adapter_for(target.upstream_type).stream(state.http, state.upstream_target(target), body)
        try:
            first = await stream.__anext__()
        except StopAsyncIteration:
            first = None
        except UpstreamError as exc:
            await stream.aclose()
            state.picker.release(target, ok=False)
            if is_retryable(exc):
                state.picker.cooldown(target, state.runtime.settings.gateway_cooldown_seconds)
                last_error = exc
                continue
            raise
        return StreamStart(target=target, stream=stream, first_chunk=first,
                           first_byte_at=stream.first_byte_at or time.perf_counter())
