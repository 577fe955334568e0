"""A minimal asyncio Redis client (RESP2) for the quota counters: EVALSHA and GET on one pipelined connection.

Every gateway request runs one counter script, and redis-py's general-purpose path (pool checkout,
command packing, response callbacks, locks) cost about a tenth of a gateway process's CPU. This client
does only what the counters need: one TCP (or unix, or TLS) connection per client, commands written in
call order (those of one event-loop tick in one write) and replies matched first-in first-out.

Failures: a connect error, a lost connection, a reply overdue by `timeout` seconds or a malformed reply
fails every pending call at once with `RespConnectionError` and drops the connection; the next call
reconnects. An error reply fails only its own call, with `ReplyError`. A caller cancelled while waiting
leaves its slot in the queue, so its reply is still read and dropped and the replies behind it stay
matched. `aclose()` closes the connection; a later call opens a new one, as redis-py's client does.

URLs: `redis://[[user]:password@]host[:port][/db]`, `rediss://…` (TLS, with the default certificate
checks), `unix://[[user]:password@]/path/to/socket`; query options `db`, `username`, `password`, and
for TLS `ssl_cert_reqs` (none, optional, required) and `ssl_ca_certs`. Any other option is refused
rather than silently ignored.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import parse_qsl, unquote, urlsplit

from unillm.access.quota.resp_wire import (
    Arg,
    ErrorReply,
    Reply,
    ReplyError,
    RespConnectionError,
    RespError,
    RespParser,
    encode_command,
)

__all__ = ["Arg", "ErrorReply", "RedisAddress", "Reply", "ReplyError", "RespClient", "RespConnectionError",
           "RespError", "RespParser", "Script", "encode_command"]


# ---------------------------------------------------------------- addresses


@dataclass(frozen=True)
class RedisAddress:
    host: str = "localhost"
    port: int = 6379
    unix_path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        """host:port/db (or the socket path), never the password: safe for messages and logs."""
        if self.unix_path is not None:
            return f"unix:{self.unix_path}?db={self.db}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}/{self.db}"

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        """Raises ValueError (whose message never holds the password) for a URL this client cannot use."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"unsupported scheme {parts.scheme!r} (use redis://, rediss:// or unix://)")
        options = dict(parse_qsl(parts.query))
        unknown = sorted(set(options) - {"db", "username", "password", "ssl_cert_reqs", "ssl_ca_certs"})
        if unknown:
            raise ValueError(f"unsupported option(s) {', '.join(unknown)} (supported: db, username, "
                             "password, and ssl_cert_reqs, ssl_ca_certs for rediss://)")
        username = unquote(parts.username) if parts.username else options.get("username")
        password = unquote(parts.password) if parts.password else options.get("password")
        db_text = options.get("db") or ("" if parts.scheme == "unix" else parts.path.strip("/")) or "0"
        if not db_text.isdigit():
            raise ValueError(f"the database number must be a whole number, not {db_text!r}")
        db, username, password = int(db_text), username or None, password or None
        if parts.scheme == "unix":
            if not parts.path:
                raise ValueError("a unix:// URL needs the socket path")
            return cls(unix_path=parts.path, db=db, username=username, password=password)
        tls = _tls_context(options) if parts.scheme == "rediss" else None
        return cls(host=parts.hostname or "localhost", port=parts.port or 6379, db=db, username=username,
                   password=password, tls=tls)


def _tls_context(options: dict[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    requirement = options.get("ssl_cert_reqs", "required")
    if requirement not in ("none", "optional", "required"):
        raise ValueError(f"ssl_cert_reqs must be none, optional or required, not {requirement!r}")
    if requirement != "required":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE if requirement == "none" else ssl.CERT_OPTIONAL
    return context


@dataclass(frozen=True)
class Script:
    """A Lua script and its SHA1, the name EVALSHA runs it by."""

    source: bytes
    sha: bytes

    @classmethod
    def of(cls, source: str) -> Script:
        data = source.encode()
        return cls(data, hashlib.sha1(data, usedforsecurity=False).hexdigest().encode())


# ---------------------------------------------------------------- connection


class _Connection(asyncio.Protocol):
    """One connection: requests go out in order, replies resolve the oldest waiting future."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.broken = False
        self._timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._parser = RespParser()
        self._waiting: deque[tuple[asyncio.Future[Reply], float]] = deque()
        self._outgoing: list[bytes] = []
        self._timer: asyncio.TimerHandle | None = None
        self._closed: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it: no isinstance check.
        self._transport = cast(asyncio.Transport, transport)

    def request(self, payload: bytes) -> asyncio.Future[Reply]:
        if self.broken:
            raise RespConnectionError("connection lost")
        future: asyncio.Future[Reply] = self.loop.create_future()
        self._waiting.append((future, self.loop.time() + self._timeout))
        if not self._outgoing:
            self.loop.call_soon(self._flush)
        self._outgoing.append(payload)
        if self._timer is None:
            self._timer = self.loop.call_at(self.loop.time() + self._timeout, self._check_overdue)
        return future

    def _flush(self) -> None:
        outgoing, self._outgoing = self._outgoing, []
        if outgoing and not self.broken and self._transport is not None:
            self._transport.write(b"".join(outgoing))

    def data_received(self, data: bytes) -> None:
        try:
            replies = self._parser.feed(data)
        except RespConnectionError as exc:
            self.abort(str(exc))
            return
        waiting = self._waiting
        for reply in replies:
            if not waiting:
                self.abort("Redis sent a reply nobody asked for")
                return
            future, _ = waiting.popleft()
            if future.done():  # its caller was cancelled: the reply is read and dropped
                continue
            if type(reply) is ErrorReply:
                future.set_exception(ReplyError(reply))
            else:
                future.set_result(reply)

    def _check_overdue(self) -> None:
        """One timer per connection: a late head of the queue means every reply behind it is late too."""
        self._timer = None
        if not self._waiting or self.broken:
            return
        deadline = self._waiting[0][1]
        if deadline <= self.loop.time():
            self.abort(f"no reply within {self._timeout:g} s")
        else:
            self._timer = self.loop.call_at(deadline, self._check_overdue)

    def eof_received(self) -> bool:
        self.broken = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(f"connection lost: {exc}" if exc else "connection closed by Redis")
        if not self._closed.done():
            self._closed.set_result(None)

    def abort(self, reason: str) -> None:
        self._fail_all(reason)
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        self._fail_all("connection closed by the client")
        if self._transport is not None:
            self._transport.close()

    def _fail_all(self, reason: str) -> None:
        self.broken = True
        self._outgoing = []
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting = self._waiting, deque()
        for future, _ in waiting:
            if not future.done():
                future.set_exception(RespConnectionError(reason))

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)


class RespClient:
    """Lazily connects on first use (and after any failure); safe for many concurrent callers."""

    def __init__(self, address: RedisAddress, *, timeout: float) -> None:
        self.address = address
        self._timeout = timeout
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None

    async def execute(self, *args: Arg) -> Reply:
        connection = self._connection
        if connection is None or connection.broken or connection.loop is not asyncio.get_running_loop():
            connection = await self._connect_once()
        return await connection.request(encode_command(args))

    async def evalsha(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Reply:
        """EVALSHA; when Redis lost its script cache (restart, SCRIPT FLUSH), EVAL loads it and runs once."""
        try:
            return await self.execute(b"EVALSHA", script.sha, len(keys), *keys, *args)
        except ReplyError as exc:
            if exc.code != "NOSCRIPT":
                raise
        return await self.execute(b"EVAL", script.source, len(keys), *keys, *args)

    async def get(self, key: Arg) -> bytes | None:
        value = await self.execute(b"GET", key)
        if value is not None and not isinstance(value, bytes):
            raise RespError(f"unexpected reply to GET: {type(value).__name__}")
        return value

    async def aclose(self) -> None:
        """Closes the connection, failing the calls still waiting; a connect under way is let finish
        first (at most `timeout`) rather than cancelled, so the callers sharing it see a connection error,
        not a cancellation of their own."""
        if self._connecting is not None:
            await asyncio.wait([self._connecting])
        connection, self._connection = self._connection, None
        if connection is not None and connection.loop is asyncio.get_running_loop():
            connection.close()
            await connection.wait_closed()

    async def _connect_once(self) -> _Connection:
        """Callers arriving while a connect is under way share it (a blackholed host costs one timeout)."""
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        address = self.address
        connection: _Connection | None = None
        try:
            async with asyncio.timeout(self._timeout):
                def factory() -> _Connection:
                    return _Connection(loop, self._timeout)
                if address.unix_path is not None:
                    _, connection = await loop.create_unix_connection(factory, address.unix_path)
                else:
                    _, connection = await loop.create_connection(factory, address.host, address.port,
                                                                 ssl=address.tls)
                if address.password is not None:
                    credentials = (address.username, address.password) if address.username else \
                        (address.password,)
                    await connection.request(encode_command((b"AUTH", *credentials)))
                if address.db:
                    await connection.request(encode_command((b"SELECT", address.db)))
            self._connection = connection
            return connection
        except BaseException as exc:
            if connection is not None:
                connection.abort("connect failed")
                await connection.wait_closed()
            if isinstance(exc, TimeoutError):
                raise RespConnectionError(f"cannot connect within {self._timeout:g} s") from None
            if isinstance(exc, OSError):
                raise RespConnectionError(f"cannot connect: {exc}") from exc
            raise
        finally:
            if self._connecting is asyncio.current_task():
                self._connecting = None
