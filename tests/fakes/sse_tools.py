"""Shared machinery of the fake cloud APIs (OpenAI, Anthropic): an aiohttp app on 127.0.0.1 with an
ephemeral port, a record of every request (with headers, to prove what was forwarded), fault knobs,
and an SSE writer that can delay, split events across writes, and drop the connection.

The fake notices a client that goes away (it polls its transport while waiting between chunks) and
counts it in `cancelled_streams`, so tests can prove the gateway cancels the upstream call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import orjson
from aiohttp import web

HTML_PAGE = (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
             b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>")


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class Behavior:
    """What the fake does on its next calls; tests change fields freely."""

    text: str = "Hello from the fake upstream."
    chunks: int = 4  # content chunks in a stream
    prompt_tokens: int = 11
    completion_tokens: int = 7
    cached_tokens: int = 0  # OpenAI cached_tokens / Anthropic cache_read_input_tokens
    cache_creation_tokens: int = 0  # Anthropic only
    send_usage: bool = True  # in streams (OpenAI: only when the request asked for it)
    first_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    error_status: int | None = None
    error_body: dict[str, Any] | None = None  # default: the provider's own error envelope
    retry_after: str | None = None
    html_error: bool = False  # answer error_status (or 502) with an nginx HTML page
    malformed_json: bool = False  # a 200 whose JSON body (or first stream event) is broken
    split_events: bool = False  # write every SSE event in two halves with a pause between
    crlf: bool = False  # \r\n line endings in SSE
    drop_after_chunks: int | None = None  # close the connection after this many content chunks
    stream_error_after_chunks: int | None = None  # send the provider's in-stream error event
    tool_calls: list[dict[str, Any]] | None = None  # [{"id", "name", "arguments": dict}]
    finish_reason: str | None = None  # default: the provider's natural one
    keepalive_comments: bool = True  # ": ping"-style comments between events
    extra: dict[str, Any] = field(default_factory=dict)


class FakeAPI:
    """Base of the fakes: subclasses add routes in `routes()`."""

    api_prefix = "/v1"

    def __init__(self, behavior: Behavior | None = None) -> None:
        self.behavior = behavior or Behavior()
        self.expected_key: str | None = None  # when set, other credentials get the provider's 401
        self.requests: list[Recorded] = []
        self.in_flight_streams = 0
        self.completed_streams = 0
        self.cancelled_streams = 0
        self.stream_cancelled = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        assert sockets
        self.port = sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + self.api_prefix

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def record(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), body))
        return body

    # -- faults --------------------------------------------------------------------------------
    def error_response(self, default_body: dict[str, Any]) -> web.Response | None:
        """The forced error, if any: HTML page, or the provider's JSON envelope (with Retry-After)."""
        b = self.behavior
        if b.html_error:
            return web.Response(status=b.error_status or 502, body=HTML_PAGE, content_type="text/html")
        if b.error_status is None:
            return None
        headers = {"Retry-After": b.retry_after} if b.retry_after is not None else None
        return web.json_response(b.error_body or default_body, status=b.error_status, headers=headers,
                                 dumps=lambda v: orjson.dumps(v).decode())

    async def wait(self, request: web.Request, seconds: float) -> bool:
        """Sleep, noticing a client that went away meanwhile; False if it did."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            if _gone(request):
                return False
            left = deadline - loop.time()
            if left <= 0:
                return True
            await asyncio.sleep(min(left, 0.01))

    # -- SSE -----------------------------------------------------------------------------------
    async def stream_events(self, request: web.Request, events: list[bytes], *,
                            drop_after: int | None = None) -> web.StreamResponse:
        """Write `events` (whole SSE events) with the configured latency, splitting and drop.
        `drop_after`: close the connection after that many events (a crash mid-stream)."""
        b = self.behavior
        self.in_flight_streams += 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-cache"})
        finished = False
        try:
            if not await self.wait(request, b.first_byte_delay):
                raise ConnectionResetError
            await response.prepare(request)
            for number, event in enumerate(events):
                if drop_after is not None and number >= drop_after:
                    assert request.transport is not None
                    request.transport.close()
                    finished = True
                    return response
                if number and not await self.wait(request, b.chunk_delay):
                    raise ConnectionResetError
                if b.crlf:
                    event = event.replace(b"\n", b"\r\n")
                if b.split_events and len(event) > 2:
                    half = len(event) // 2
                    await response.write(event[:half])
                    await asyncio.sleep(0.005)
                    await response.write(event[half:])
                else:
                    await response.write(event)
                if b.keepalive_comments and number == 0:
                    await response.write(b": ping\n\n" if not b.crlf else b": ping\r\n\r\n")
            await response.write_eof()
            finished = True
            self.completed_streams += 1
            return response
        except ConnectionResetError:  # the client went away
            self.cancelled_streams += 1
            self.stream_cancelled.set()
            finished = True
            return response
        finally:
            if not finished:
                self.cancelled_streams += 1
                self.stream_cancelled.set()
            self.in_flight_streams -= 1


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def sse(data: Any, event: str | None = None) -> bytes:
    """One SSE event; `data` is JSON-encoded unless already bytes."""
    payload = data if isinstance(data, bytes) else orjson.dumps(data)
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + payload + b"\n\n"


def split_text(text: str, parts: int) -> list[str]:
    """`text` in `parts` nearly equal pieces (at least one, none empty unless text is)."""
    parts = max(1, min(parts, len(text) or 1))
    size, extra = divmod(len(text), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out
