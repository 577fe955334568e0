"""The response handed to the caller: status and headers at once, the body read on demand.

Headers are kept as the parser's raw byte pairs and decoded only when asked for: the hot path of a
gateway relaying a small JSON answer typically looks at the status and content type and nothing else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TypeVar, overload

from unillm.gateway.upstream.h1.connection import H1Connection
from unillm.gateway.upstream.h1.errors import ClientClosed, ServerDisconnected

_OCTET_STREAM = "application/octet-stream"
_T = TypeVar("_T")


class H1Headers(Mapping[str, str]):
    """Read-only, case-insensitive view of the response headers. Indexing and `get` give the first
    value of a repeated header; `getall` gives all of them; `raw_items` the original order and case.
    Names are decoded as Latin-1, values as UTF-8 (undecodable bytes kept via surrogateescape, as
    aiohttp does)."""

    __slots__ = ("_first", "_items")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        items = [(name.decode("latin-1"), value.decode("utf-8", "surrogateescape")) for name, value in raw]
        first: dict[str, str] = {}
        for name, value in items:
            first.setdefault(name.lower(), value)
        self._items = items
        self._first = first

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, default: str, /) -> str: ...
    @overload
    def get(self, name: str, default: _T, /) -> str | _T: ...
    def get(self, name: str, default: object = None, /) -> object:
        return self._first.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)  # lowercased names, each once

    def __len__(self) -> int:
        return len(self._first)

    def getall(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self._items if key.lower() == lowered]

    def raw_items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:
        # names only: a header value may be a cookie or a token, and reprs end up in logs
        return f"<H1Headers {sorted(self._first)}>"


class H1Response:
    """One response. Read the body with `read()` or `iter_any()`, then nothing else is needed: once the
    body has been consumed to its end the connection goes back to the pool by itself. Otherwise call
    `release()` (or `close()`) when done; a response dropped unreleased closes its connection.

    `read()` returns the whole remaining body; once the body has been consumed (by `read()` or
    `iter_any()`), later calls return b"" and `iter_any()` yields nothing."""

    __slots__ = ("_conn", "_content_type", "_ended", "_headers", "_raw_headers", "reason", "status")

    def __init__(self, conn: H1Connection, status: int, reason: bytes, raw_headers: list[tuple[bytes, bytes]]
                 ) -> None:
        self._conn: H1Connection | None = conn
        self.status = status
        self.reason = reason.decode("latin-1")
        self._raw_headers = raw_headers
        self._headers: H1Headers | None = None
        self._content_type: str | None = None
        self._ended = False  # the body was consumed to its end

    @property
    def headers(self) -> H1Headers:
        headers = self._headers
        if headers is None:
            headers = self._headers = H1Headers(self._raw_headers)
        return headers

    @property
    def content_type(self) -> str:
        """Media type, lowercased, without parameters; application/octet-stream when absent or
        malformed (aiohttp's rule)."""
        content_type = self._content_type
        if content_type is None:
            content_type = _OCTET_STREAM
            for name, value in self._raw_headers:
                if len(name) == 12 and name.lower() == b"content-type":
                    media = value.decode("latin-1").partition(";")[0].strip().lower()
                    if media.count("/") == 1:
                        content_type = media
                    break
            self._content_type = content_type
        return content_type

    async def read(self) -> bytes:
        """The whole remaining body (b"" once it has been consumed)."""
        conn = self._attached()
        if conn is None:
            return b""
        parts: list[bytes] = []
        while True:
            if conn.chunks:
                parts += conn.take()
            if conn.complete:
                break
            if conn.error is not None:
                raise conn.error
            if conn.closed:  # defensive: every close path sets error or complete
                raise ServerDisconnected(f"{conn.authority} closed the connection", phase="body")
            await conn.wait()
        self._end(conn)
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def iter_any(self) -> AsyncIterator[bytes]:
        """Body pieces as they arrive (dechunked; whatever is buffered comes as one piece)."""
        return _BodyPieces(self)

    def release(self) -> None:
        """Done with this response. The connection returns to the pool only if the body was consumed
        to its end (nothing unread); otherwise it is closed. Idempotent."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        if conn.complete and not conn.chunks and conn.error is None:
            self._ended = True
            conn.owner._release(conn)
        else:
            conn.busy = False
            conn.abort(None)

    def release_after_end(self, *, timeout: float = 1.0, max_bytes: int = 65536) -> None:
        """Done with this response, maybe before the end of its body: what is left of the body is
        read and discarded in the background, and the connection returns to the pool when it ends,
        if that is within `timeout` seconds and `max_bytes`; otherwise it is closed. Idempotent."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        self._ended = True
        conn.drain_then_release(timeout, max_bytes)

    def close(self) -> None:
        """Close the connection now, abandoning the body. A read in progress in another task ends
        with ClientClosed. Idempotent."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        conn.abort(ClientClosed("the response was closed before its body was read"))

    def _attached(self) -> H1Connection | None:
        conn = self._conn
        if conn is None and not self._ended:
            raise ClientClosed("the response was closed before its body was read")
        return conn

    def _end(self, conn: H1Connection) -> None:
        """The body was consumed to its end: give the connection back (or close it)."""
        if self._conn is conn:
            self._conn = None
            self._ended = True
            conn.owner._release(conn)

    def __del__(self) -> None:
        # A response dropped without release()/close(): its connection is mid-exchange and can never
        # be reused, so close it rather than leak the socket until the server gives up.
        conn = self._conn
        if conn is not None and not conn.closed:
            try:
                conn.busy = False
                conn.abort(None)
            except Exception:  # noqa: S110  # the loop may be closed already; nothing left to do
                pass

    def __repr__(self) -> str:
        return f"<H1Response {self.status} {self.reason}>"


class _BodyPieces(AsyncIterator[bytes]):
    __slots__ = ("_response",)

    def __init__(self, response: H1Response) -> None:
        self._response = response

    def __aiter__(self) -> _BodyPieces:
        return self

    async def __anext__(self) -> bytes:
        response = self._response
        conn = response._attached()
        if conn is None:
            raise StopAsyncIteration
        while True:
            if conn.chunks:
                if not conn.complete:
                    # a consumer that always finds data buffered never waits, so never meets the
                    # total-timeout timer: check the deadline here instead
                    conn.check_deadline()
                    if conn.error is not None:
                        raise conn.error
                chunks = conn.take()
                if conn.complete:
                    response._end(conn)
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if conn.complete:
                response._end(conn)
                raise StopAsyncIteration
            if conn.error is not None:
                raise conn.error
            if conn.closed:  # defensive: every close path sets error or complete
                raise ServerDisconnected(f"{conn.authority} closed the connection", phase="body")
            await conn.wait()
