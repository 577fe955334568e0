"""uvicorn's httptools protocol, sending a response's head and its body in one write.

uvicorn writes the status line and headers when the app sends `http.response.start`, and the body
when it sends `http.response.body`: two `send()` system calls and two TCP segments for every JSON
answer, which at the gateway's rates was several percent of the process's CPU. Here the transport
holds a head that announces a body (a non-zero Content-Length) until the body's write, which follows
at once in the same task step, and sends both together. A head that announces no body, a chunked
(streamed) response and everything else are written as they come. Should the body not follow in
the same loop iteration, a callback scheduled with the hold sends the head alone, so nothing ever
waits on it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_RESPONSE_HEAD = b"HTTP/1.1 "
_END_OF_HEAD = b"\r\n\r\n"


def _announces_a_body(head: bytes) -> bool:
    # uvicorn writes header names lower-cased; a content-length of 0 has nothing to wait for
    return b"\r\ncontent-length: " in head and b"\r\ncontent-length: 0\r\n" not in head


class HeadHoldingTransport:
    """Wraps the connection's transport; everything but `write` and `close` goes straight through."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
            return
        if data.startswith(_RESPONSE_HEAD) and data.endswith(_END_OF_HEAD) and _announces_a_body(data):
            self._held = data
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """Pass to uvicorn as `http=`; otherwise uvicorn's own httptools protocol, unchanged."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeadHoldingTransport(transport, self.loop))  # type: ignore[arg-type]
