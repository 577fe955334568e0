"""Relaying an upstream stream to the client, and metering it however it ends: completed, failed
after the first byte (the adapter has sent a final SSE error event), or cancelled by the client."""

from __future__ import annotations

from collections.abc import AsyncIterator

from unillm.gateway import metering
from unillm.gateway.admission import Admission, refund
from unillm.gateway.dispatch import StreamStart
from unillm.gateway.state import GatewayState
from unillm.runtime import Runtime


class Relay:
    def __init__(self, runtime: Runtime, admission: Admission, start: StreamStart, prompt_chars: int) -> None:
        self.runtime = runtime
        self.admission = admission
        self.start = start
        self.prompt_chars = prompt_chars
        self.completed = False
        self._finished = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        if self.start.first_chunk is not None:
            yield self.start.first_chunk
        async for chunk in self.start.stream:
            yield chunk
        self.completed = True

    async def finish(self, *, cancelled: bool) -> None:
        """Close the upstream (cancelling it if still running) and write the usage row, exactly once."""
        if self._finished:
            return
        self._finished = True
        stream = self.start.stream
        await stream.aclose()
        state: GatewayState = self.runtime.components["gateway"]
        failed = stream.error is not None
        state.picker.release(self.start.target, ok=not failed)
        if cancelled:
            status, code = "cancelled", 499
        elif failed:
            status, code = "error", 502
        else:
            status, code = "success", 200
        if failed:
            await refund(self.runtime, self.admission)
        metering.record(self.runtime, self.admission, self.start.target, metering.Outcome(
            status=status, status_code=code, usage=stream.usage, prompt_chars=self.prompt_chars,
            completion_chars=stream.completion_text_chars, first_byte_at=self.start.first_byte_at,
            error_message=stream.error, error_code="upstream_error" if failed else None,
        ))
