"""One HTTP/1.1 connection to an upstream: an asyncio.Protocol that feeds the bytes it receives to
httptools' llhttp parser and keeps the parsed response for the task reading it.

Only one request is ever in flight per connection, so all per-response state (head, buffered body
pieces, end-of-message, error) lives on the connection itself, reset by `exchange()`. The reading
task waits on a plain future that the parser callbacks resolve; a single timer handle per wait
enforces the read/total timeouts, which is far cheaper than a Task or `asyncio.timeout()` per read.
Waiters are only ever resolved with `None`: the woken task inspects `error`/`complete`/`chunks`, so
an exception is raised from the reader's own frame and no future holds an unretrieved exception.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from unillm.gateway.upstream.h1.errors import (
    ClientClosed,
    ProtocolError,
    ReadTimeout,
    ServerDisconnected,
    TotalTimeout,
    UpstreamHttpError,
)


class _UnexpectedResponse(Exception):
    pass


class ConnectionOwner(Protocol):
    """What a connection needs from its pool."""

    def _forget(self, conn: H1Connection) -> None: ...
    def _release(self, conn: H1Connection) -> None: ...


class H1Connection(asyncio.Protocol):
    __slots__ = (
        "_drain_left",
        "_drain_timer",
        "_head_done",
        "_interim",
        "_loop",
        "_needs_eof",
        "_parser",
        "_paused",
        "_received_any",
        "_stale",
        "_timer_is_total",
        "_waiter",
        "authority",
        "buffered",
        "busy",
        "chunks",
        "closed",
        "complete",
        "deadline",
        "error",
        "idle",
        "idle_since",
        "in_pool",
        "keep_alive",
        "owner",
        "raw_headers",
        "read_limit",
        "read_timeout",
        "reason",
        "reused",
        "status",
        "transport",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        owner: ConnectionOwner,
        idle: list[H1Connection],
        authority: str,
        read_limit: int,
    ) -> None:
        self._loop = loop
        self.owner = owner
        self.idle = idle  # the pool's LIFO list of idle connections to the same (scheme, host, port)
        self.authority = authority  # host:port, for error messages
        self.read_limit = read_limit
        self._parser = HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.busy = False  # an exchange is in progress (between exchange() and release/close)
        self.in_pool = False
        self.reused = False  # carried at least one complete exchange before this one
        self.idle_since = 0.0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._timer_is_total = False
        self._drain_left = 0
        self._drain_timer: asyncio.TimerHandle | None = None
        self.read_timeout: float | None = None
        self.deadline: float | None = None
        self._reset()

    def _reset(self) -> None:
        self._received_any = False
        self._head_done = False
        self._interim = False
        self._needs_eof = False
        self._stale = False
        self.status = 0
        self.reason = b""
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.complete = False
        self.keep_alive = False
        self.error: UpstreamHttpError | None = None

    # -- driving one exchange ---------------------------------------------------------------------

    async def exchange(self, request: bytes, read_timeout: float | None, deadline: float | None) -> bool:
        """Send `request` and wait for the response head (then in `status`, `reason`, `raw_headers`).
        Returns False (instead of raising) when a reused connection turned out to be dead before any
        response byte: the caller retries on a fresh connection."""
        self._reset()
        self.busy = True
        self.read_timeout = read_timeout
        self.deadline = deadline
        assert self.transport is not None
        self.transport.write(request)
        while not self._head_done:
            if self.error is not None:
                raise self.error
            if self._stale:
                return False
            if self.closed:  # defensive: every close path sets error or _stale above
                raise ServerDisconnected(f"{self.authority} closed the connection", phase="head")
            await self.wait()
        return True

    async def wait(self) -> None:
        """Wait until the parser makes progress, the connection closes, or a timeout fires."""
        if self._waiter is not None:
            raise RuntimeError("another task is already reading this response")
        loop = self._loop
        timer = None
        read_timeout = self.read_timeout
        deadline = self.deadline
        if read_timeout is not None or deadline is not None:
            now = loop.time()
            is_total = read_timeout is None
            when: float = deadline if read_timeout is None else now + read_timeout  # type: ignore[assignment]
            if deadline is not None and deadline <= when:
                when, is_total = deadline, True
            if when <= now:
                self._time_out(is_total)
                return
            self._timer_is_total = is_total
            timer = loop.call_at(when, self._on_timer)
        waiter = self._waiter = loop.create_future()
        try:
            await waiter
        except asyncio.CancelledError:
            # the reader gave up: what the server sends next would be misattributed, so drop it
            self.abort(ClientClosed("the request was cancelled"))
            raise
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def take(self) -> list[bytes]:
        """Hand all buffered body pieces to the reader. Readers always take everything, so the buffer
        drops to zero (below half the limit) and reading resumes if it was paused."""
        chunks = self.chunks
        self.chunks = []
        self.buffered = 0
        if self._paused:
            self._paused = False
            if not self.closed and self.transport is not None:
                self.transport.resume_reading()
        return chunks

    def check_deadline(self) -> None:
        """For a consumer that never has to wait (data always buffered): the total timeout still holds."""
        if self.deadline is not None and self._loop.time() >= self.deadline:
            self._time_out(True)

    def drain_then_release(self, timeout: float, max_bytes: int) -> None:
        """The reader is done before the body's end (a stream's `[DONE]` came before the chunked
        body's terminator): discard what is left and pool the connection when the message ends,
        unless that takes longer than `timeout` or more than `max_bytes`, which closes it instead.
        Saves a new connection (for a cloud provider a TLS handshake) per streamed request."""
        if self.error is not None or self.closed or not self.keep_alive or self._needs_eof:
            self.busy = False
            self.abort(None)
            return
        if self.complete:
            self.chunks = []
            self.owner._release(self)
            return
        self.take()  # also resumes reading if the buffer had paused it
        self._drain_left = max_bytes
        self._drain_timer = self._loop.call_later(timeout, self.abort, None)

    def _end_drain(self) -> None:
        timer = self._drain_timer
        if timer is not None:
            self._drain_timer = None
            timer.cancel()

    def abort(self, error: UpstreamHttpError | None) -> None:
        """Close now, discarding unsent and unread bytes; `error` (if any) is what a reader gets."""
        self._end_drain()
        if error is not None and self.error is None:
            self.error = error
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()
            self.owner._forget(self)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _on_timer(self) -> None:
        self._time_out(self._timer_is_total)

    def _time_out(self, is_total: bool) -> None:
        where = "the response body" if self._head_done else "the response head"
        if is_total:
            self.abort(TotalTimeout(
                f"the exchange with {self.authority} exceeded its total timeout ({where})"))
        else:
            self.abort(ReadTimeout(
                f"{self.authority} sent nothing for {self.read_timeout:g} s while waiting for {where}"))

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.busy:
            # Bytes nobody asked for on an idle connection: its framing can no longer be trusted
            # (Go's net/http closes it too).
            self.abort(None)
            return
        self._received_any = True
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade:
            self.abort(ProtocolError(
                f"{self.authority} switched protocols (status 101), which is not supported"))
        except HttpParserError as exc:
            if self.complete:
                # bytes after the one response we asked for (see on_message_begin): the response
                # stands, but the connection's framing cannot be trusted any more
                self.abort(None)
            else:
                # llhttp's reasons are fixed texts ("Invalid header value char"), never the bytes
                self.abort(ProtocolError(f"{self.authority} sent an invalid HTTP/1.1 response: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost decides what the EOF means

    def connection_lost(self, exc: Exception | None) -> None:
        self._end_drain()
        if not self.closed:
            self.closed = True
            self.owner._forget(self)
        if self.busy and self.error is None and not self.complete:
            if not self._head_done:
                if self.reused and not self._received_any:
                    # The server closed an idle keep-alive connection just as we reused it; the
                    # request was not processed (no byte of answer), so it is safe to send again.
                    self._stale = True
                else:
                    self.error = ServerDisconnected(
                        f"{self.authority} closed the connection before sending a complete response head",
                        phase="head")
            elif self._needs_eof and exc is None:
                # a body without length or chunking ends when the connection does (cleanly: a reset
                # may have cut it short, so that is reported as a disconnect below)
                self.complete = True
            else:
                self.error = ServerDisconnected(
                    f"{self.authority} closed the connection in the middle of the response body",
                    phase="body")
        self._wake()

    def pause_writing(self) -> None:
        pass  # the request is written once; the transport buffers what the socket does not take

    def resume_writing(self) -> None:
        pass

    # -- httptools callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            # A second response to one request: stop llhttp before it mixes that one's body into
            # the buffer of the first (the exception surfaces from feed_data as HttpParserError).
            raise _UnexpectedResponse

    def on_status(self, status: bytes) -> None:
        self.reason += status  # llhttp may deliver the reason phrase in several pieces

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._head_done:  # after the head, these are chunked trailers: not part of `headers`
            self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if status < 200:
            self._interim = True  # 100 Continue / 103 Early Hints: the real response follows
            return
        self.status = status
        # Must be read inside the callback: llhttp clears its flags once the message is complete.
        self.keep_alive = parser.should_keep_alive()
        if not self.keep_alive:
            self._needs_eof = _body_ends_at_eof(status, self.raw_headers)
        self._head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._drain_timer is not None:
            self._drain_left -= len(body)
            if self._drain_left < 0:
                self.abort(None)
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > self.read_limit and not self._paused and self.transport is not None:
            # the reader is slower than the upstream: stop reading from the socket (TCP backpressure)
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            self.reason = b""
            self.raw_headers = []
            return
        self.keep_alive = self.keep_alive and self._parser.should_keep_alive()
        self.complete = True
        if self._drain_timer is not None:
            self._end_drain()
            self.owner._release(self)
            return
        self._wake()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "busy" if self.busy else "idle"
        return f"<H1Connection {self.authority} {state}>"


def _body_ends_at_eof(status: int, raw_headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a response without keep-alive is delimited by the connection closing (no length, not
    chunked) rather than merely announcing `Connection: close`. Only reached when keep-alive is off."""
    if status in (204, 304):
        return False
    for name, value in raw_headers:
        lowered = name.lower()
        if lowered == b"content-length":
            return False
        if lowered == b"transfer-encoding":
            return not value.lower().rstrip().endswith(b"chunked")
    return True
