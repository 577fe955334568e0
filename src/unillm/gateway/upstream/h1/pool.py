"""`UpstreamHttp`: the client the gateway adapters call, with its keep-alive pool.

Idle connections are kept per (scheme, host, port) in a LIFO list: the most recently used connection
is the one least likely to have been closed by the server's idle timeout, and the ones at the bottom
age out and get closed by a lazy sweep. There is no limit on connections in use (the gateway's own
admission control bounds concurrency); only the number kept idle is capped.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from unillm.gateway.upstream.h1.connection import H1Connection
from unillm.gateway.upstream.h1.errors import (
    ClientClosed,
    ConnectFailed,
    ConnectTimeout,
    InvalidUrl,
    ServerDisconnected,
    TotalTimeout,
)
from unillm.gateway.upstream.h1.request import encode_headers
from unillm.gateway.upstream.h1.response import H1Response
from unillm.gateway.upstream.h1.url import ParsedUrl, parse_url

_MAX_CACHED_URLS = 1024


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; None means unbounded."""

    connect: float | None = None  # TCP connect + TLS handshake of a NEW connection
    read: float | None = None  # waiting for the response head, and every gap between two body reads
    total: float | None = None  # the whole exchange: connect, send, head, body via read()/iter_any()


class _Route:
    """Everything about one URL that does not change between requests."""

    __slots__ = ("head_prefix", "idle", "url")

    def __init__(self, url: ParsedUrl, idle: list[H1Connection]) -> None:
        self.url = url
        self.idle = idle  # shared by every URL with the same (scheme, host, port)
        self.head_prefix = b"POST %s HTTP/1.1\r\nHost: %s\r\n" % (url.target, url.host_header.encode("ascii"))


def _with_url_credentials(headers: Mapping[str, str], basic_auth: str) -> Mapping[str, str]:
    """The URL's `user:password@` as Basic authorization, unless the request brings its own: two
    credentials for one request is a configuration mistake to report, not to settle silently."""
    if any(name.lower() == "authorization" for name in headers):
        raise InvalidUrl("the URL carries credentials (user:password@) and the request has its own "
                         "Authorization header (an API key?); keep one of them")
    return {**headers, "Authorization": basic_auth}


class UpstreamHttp:
    """A lean HTTP/1.1 client for POSTing to upstreams, with a keep-alive pool.

    No redirects, no decompression (send `Accept-Encoding: identity`), no cookies, no proxies.
    The client writes `Host` and `Content-Length` itself; a `Host`, `Content-Length` or
    `Transfer-Encoding` among the caller's headers is dropped."""

    __slots__ = ("_closed", "_conns", "_idle", "_keepalive", "_max_idle", "_read_limit", "_routes",
                 "_ssl_context", "_sweeper")

    def __init__(self, *, keepalive_timeout: float = 15.0, max_idle_per_host: int = 256,
                 ssl_context: ssl.SSLContext | None = None, read_buffer_limit: int = 1 << 20) -> None:
        self._keepalive = keepalive_timeout
        self._max_idle = max_idle_per_host
        self._ssl_context = ssl_context  # None: a default context is made on the first https request
        self._read_limit = read_buffer_limit
        self._routes: dict[str, _Route] = {}
        self._idle: dict[tuple[str, str, int], list[H1Connection]] = {}
        self._conns: set[H1Connection] = set()  # every open connection, idle or in use, for close()
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def post(self, url: str, *, body: bytes, headers: Mapping[str, str],
                   timeouts: Timeouts) -> H1Response:
        """Send one POST and return once the response head has arrived (any status; no raise on
        4xx/5xx). Raises the `UpstreamHttpError` subclasses; never retries except once, on a fresh
        connection, when a reused idle connection was closed by the server before answering."""
        if self._closed:
            raise ClientClosed("the upstream HTTP client is closed")
        route = self._routes.get(url)
        if route is None:
            route = self._route(url)
        if route.url.basic_auth is not None:
            headers = _with_url_credentials(headers, route.url.basic_auth)
        request = b"".join((route.head_prefix, encode_headers(headers),
                            b"Content-Length: %d\r\n\r\n" % len(body), body))
        loop = asyncio.get_running_loop()
        now = loop.time()
        total = timeouts.total
        deadline = None if total is None else now + total
        conn = self._take_idle(route.idle, now)
        if conn is not None and await conn.exchange(request, timeouts.read, deadline):
            return H1Response(conn, conn.status, conn.reason, conn.raw_headers)
        conn = await self._connect(route.url, route.idle, loop, timeouts.connect, deadline)
        if not await conn.exchange(request, timeouts.read, deadline):  # pragma: no cover - fresh: never stale
            raise ServerDisconnected(f"{conn.authority} closed the connection", phase="head")
        return H1Response(conn, conn.status, conn.reason, conn.raw_headers)

    async def close(self) -> None:
        """Close every connection, idle and in use (readers get ClientClosed); later posts raise
        ClientClosed. Idempotent."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        conns = list(self._conns)
        for conn in conns:
            conn.abort(ClientClosed("the upstream HTTP client was closed"))
        self._conns.clear()
        for idle in self._idle.values():
            idle.clear()
        if conns:
            await asyncio.sleep(0)  # let the transports run connection_lost, so the sockets are closed

    # -- pool -----------------------------------------------------------------------------------

    def _route(self, url: str) -> _Route:
        parsed = parse_url(url)
        key = (parsed.scheme, parsed.host, parsed.port)
        idle = self._idle.get(key)
        if idle is None:
            idle = self._idle[key] = []
        if len(self._routes) >= _MAX_CACHED_URLS:
            self._routes.clear()
        route = self._routes[url] = _Route(parsed, idle)
        return route

    def _take_idle(self, idle: list[H1Connection], now: float) -> H1Connection | None:
        keepalive = self._keepalive
        while idle:
            conn = idle.pop()
            conn.in_pool = False
            transport = conn.transport
            if (conn.closed or transport is None or transport.is_closing()
                    or now - conn.idle_since > keepalive):
                conn.abort(None)
                continue
            conn.reused = True
            return conn
        return None

    def _release(self, conn: H1Connection) -> None:
        """Called by the response once its body was consumed to the end."""
        conn.busy = False
        transport = conn.transport
        idle = conn.idle
        if (self._closed or conn.closed or not conn.keep_alive or transport is None
                or transport.is_closing() or len(idle) >= self._max_idle):
            conn.abort(None)
            return
        loop = conn._loop
        conn.idle_since = loop.time()
        conn.in_pool = True
        idle.append(conn)
        if self._sweeper is None:
            self._sweeper = loop.call_at(conn.idle_since + self._keepalive, self._sweep, loop)

    def _forget(self, conn: H1Connection) -> None:
        """Called by a connection once it is closed, by either side."""
        self._conns.discard(conn)
        if conn.in_pool:
            conn.in_pool = False
            try:
                conn.idle.remove(conn)
            except ValueError:  # pragma: no cover - in_pool says it is there
                pass

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close connections idle longer than keepalive_timeout, so a host that is no longer called
        does not hold sockets forever. Runs only while something is idle."""
        self._sweeper = None
        now = loop.time()
        oldest: float | None = None
        for idle in self._idle.values():
            # appended in release order, so the oldest are at the front
            while idle and now - idle[0].idle_since > self._keepalive:
                conn = idle.pop(0)
                conn.in_pool = False
                conn.abort(None)
            if idle:
                first = idle[0].idle_since
                oldest = first if oldest is None else min(oldest, first)
        if oldest is not None and not self._closed:
            self._sweeper = loop.call_at(oldest + self._keepalive + 0.001, self._sweep, loop)

    # -- connecting -----------------------------------------------------------------------------

    async def _connect(self, url: ParsedUrl, idle: list[H1Connection], loop: asyncio.AbstractEventLoop,
                       connect_timeout: float | None, deadline: float | None) -> H1Connection:
        conn = H1Connection(loop, self, idle, url.authority, self._read_limit)
        when = deadline
        if connect_timeout is not None:
            candidate = loop.time() + connect_timeout
            if when is None or candidate < when:
                when = candidate
        timeout = asyncio.timeout_at(when)
        try:
            async with timeout:
                if url.tls:
                    await loop.create_connection(lambda: conn, url.host, url.port, ssl=self._ssl(),
                                                 server_hostname=url.host)
                else:
                    await loop.create_connection(lambda: conn, url.host, url.port)
        except (OSError, ValueError) as exc:  # OSError includes TimeoutError, ssl.SSLError, gaierror
            if timeout.expired():
                if when == deadline:
                    raise TotalTimeout(
                        f"the exchange with {url.authority} exceeded its total timeout (while connecting)"
                    ) from None
                raise ConnectTimeout(
                    f"could not connect to {url.authority} within {connect_timeout:g} s") from None
            raise ConnectFailed(f"could not connect to {url.authority}: {exc}") from exc
        if self._closed:
            conn.abort(None)
            raise ClientClosed("the upstream HTTP client was closed")
        self._conns.add(conn)
        return conn

    def _ssl(self) -> ssl.SSLContext:
        context = self._ssl_context
        if context is None:
            context = self._ssl_context = ssl.create_default_context()
        return context
