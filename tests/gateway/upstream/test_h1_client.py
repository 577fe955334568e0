"""The lean HTTP/1.1 upstream client (`unillm.gateway.upstream.h1`) against real servers on 127.0.0.1
that write exactly the bytes each test wants (see h1_servers.py). No part of the client is mocked.

Most scenarios run twice, on the default asyncio loop and on uvloop (`@both_loops`): they are plain
coroutines run with `asyncio.run` / `uvloop.run`, so they create their servers and clients inside.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import inspect
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvloop

from tests.gateway.upstream.h1_servers import (
    LAST_CHUNK,
    Peer,
    RawServer,
    Request,
    answer_each,
    chunk,
    chunked_head,
    free_port_refusing,
    ok_json,
    response,
    self_signed,
)
from unillm.gateway.upstream.h1 import (
    ClientClosed,
    ConnectFailed,
    ConnectTimeout,
    H1Response,
    InvalidHeader,
    InvalidUrl,
    ProtocolError,
    ReadTimeout,
    ServerDisconnected,
    Timeouts,
    TotalTimeout,
    UpstreamHttp,
    UpstreamHttpError,
)
from unillm.gateway.upstream.h1.url import parse_url

CANARY = "sk-canary-H1-DO-NOT-LEAK-0123456789abcdef"
BODY_CANARY = b"body-canary-DO-NOT-LEAK"
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {CANARY}",
           "Accept-Encoding": "identity", "X-Canary": CANARY}
BODY = b'{"model":"m","secret":"' + BODY_CANARY + b'"}'
TIMEOUTS = Timeouts(connect=2, read=2, total=5)


def both_loops(scenario: Callable[..., Coroutine[Any, Any, None]]) -> Any:
    """Turn `async def scenario(**sync_fixtures)` into a test run once per event loop."""
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
              for p in inspect.signature(scenario).parameters.values()]

    def test(loop: str, **fixtures: Any) -> None:
        if loop == "uvloop":
            uvloop.run(scenario(**fixtures))
        else:
            asyncio.run(scenario(**fixtures))

    test.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("loop", inspect.Parameter.KEYWORD_ONLY), *params])
    test.__name__ = test.__qualname__ = scenario.__name__
    test.__doc__ = scenario.__doc__
    return pytest.mark.parametrize("loop", ["asyncio", "uvloop"])(test)


@asynccontextmanager
async def open_client(**kwargs: Any) -> AsyncIterator[UpstreamHttp]:
    client = UpstreamHttp(**kwargs)
    try:
        yield client
    finally:
        await client.close()


async def post(client: UpstreamHttp, url: str, *, body: bytes = BODY, headers: dict[str, str] | None = None,
               timeouts: Timeouts = TIMEOUTS) -> H1Response:
    return await client.post(url, body=body, headers=HEADERS if headers is None else headers,
                             timeouts=timeouts)


def idle_count(client: UpstreamHttp) -> int:
    return sum(len(idle) for idle in client._idle.values())


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.002)


def assert_clean(exc: BaseException) -> None:
    """No header value and no request body in the error, its repr, or anything chained to it."""
    seen: BaseException | None = exc
    while seen is not None:
        for text in (str(seen), repr(seen), repr(seen.args)):
            assert CANARY not in text
            assert BODY_CANARY.decode() not in text
        seen = seen.__cause__ or seen.__context__


def stall_after(data: bytes) -> Callable[[Peer], Coroutine[Any, Any, None]]:
    """Handler: read one request, send `data`, then send nothing more (until the client closes)."""
    async def handler(peer: Peer) -> None:
        if await peer.request() is not None:
            await peer.send_drain(data)
            await peer.wait_eof(timeout=30)
    return handler


# -- bodies ----------------------------------------------------------------------------------------

@both_loops
async def test_content_length_body_and_request_bytes() -> None:
    payload = b'{"id":"chatcmpl-1"}'
    headers = [("Content-Type", "application/json; charset=utf-8"), ("X-Multi", "a"), ("x-multi", "b")]
    async with RawServer(answer_each(lambda _r: response(200, payload, headers))) as server, \
            open_client() as client:
        resp = await post(client, server.url("/v1/chat/completions?api-version=1#frag"),
                          headers={**HEADERS, "Host": "evil.example", "content-length": "999",
                                   "Transfer-Encoding": "chunked"})
        assert (resp.status, resp.reason) == (200, "OK")
        assert resp.content_type == "application/json"
        assert resp.headers["content-type"] == "application/json; charset=utf-8"
        assert resp.headers.get("X-MULTI") == "a"
        assert resp.headers.getall("x-multi") == ["a", "b"]
        assert "Content-Length" in resp.headers and "nope" not in resp.headers
        assert resp.headers.get("nope") is None and resp.headers.get("nope", "d") == "d"
        assert CANARY not in repr(resp.headers)
        assert await resp.read() == payload
        assert await resp.read() == b""  # consumed: a second read returns nothing
        assert [piece async for piece in resp.iter_any()] == []
        resp.release()
        resp.release()
        request = server.peers[0].requests[0]
        assert (request.method, request.target, request.version) == (
            "POST", "/v1/chat/completions?api-version=1", "HTTP/1.1")
        assert request.all("Host") == [f"127.0.0.1:{server.port}"]
        assert request.all("Content-Length") == [str(len(BODY))]
        assert request.all("Transfer-Encoding") == []
        assert request.header("Authorization") == f"Bearer {CANARY}"
        assert request.header("Content-Type") == "application/json"
        assert request.body == BODY


async def _chunked_split_awkwardly() -> None:
    pieces = [b"alpha-", b"\xff\x00binary", b"x" * 300, b"data: {}\n\n"]
    stream = (chunked_head(headers=[("Content-Type", "text/event-stream")])
              + b"".join(chunk(p) for p in pieces) + b"0\r\nX-Trailer: t\r\n\r\n")
    # cut inside the status line, a header name, between CR and LF, inside a chunk-size line,
    # inside chunk data, inside a chunk's closing CRLF and inside the last chunk
    cuts = sorted({3, 11, 17, 30, stream.index(b"\r\n\r\n") + 1, stream.index(b"6\r\n") + 1,
                   stream.index(b"binary") + 2, stream.index(b"12c") + 1, stream.index(b"12c") + 2,
                   stream.index(b"xxxx") + 150, stream.index(b"data:") - 1, len(stream) - 3, len(stream) - 1})
    parts = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]

    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            for part in parts:
                await peer.send_drain(part)
                await asyncio.sleep(0.001)  # separate TCP segments, so the parser sees each cut

    async with RawServer(handler) as server, open_client() as client:
        for _ in range(2):
            resp = await post(client, server.url())
            assert resp.content_type == "text/event-stream"
            assert await resp.read() == b"".join(pieces)
            assert "x-trailer" not in resp.headers  # trailers are not response headers
        assert server.accepted == 1  # chunked responses keep the connection reusable


test_chunked_body_split_across_writes = both_loops(_chunked_split_awkwardly)


@both_loops
async def test_read_until_close_body_is_never_reused() -> None:
    async def handler(peer: Peer) -> None:
        if await peer.request() is not None:
            await peer.send_drain(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart1,")
            await asyncio.sleep(0.01)
            await peer.send_drain(b"part2")
            peer.close()

    async with RawServer(handler) as server, open_client() as client:
        for expected_accepted in (1, 2):
            resp = await post(client, server.url())
            assert await resp.read() == b"part1,part2"
            assert server.accepted == expected_accepted
        assert idle_count(client) == 0


@both_loops
async def test_read_until_close_body_cut_by_a_reset_is_an_error() -> None:
    async def handler(peer: Peer) -> None:
        if await peer.request() is not None:
            await peer.send_drain(b"HTTP/1.1 200 OK\r\n\r\npart1,")
            await asyncio.sleep(0.01)
            peer.reset()

    async with RawServer(handler) as server, open_client() as client:
        resp = await post(client, server.url())
        with pytest.raises(ServerDisconnected) as caught:
            await resp.read()
        assert caught.value.phase == "body"


@both_loops
async def test_http10_body_until_close() -> None:
    async def handler(peer: Peer) -> None:
        if await peer.request() is not None:
            await peer.send_drain(b"HTTP/1.0 200 OK\r\n\r\nold-school")
            peer.close()

    async with RawServer(handler) as server, open_client() as client:
        resp = await post(client, server.url())
        assert await resp.read() == b"old-school"
        await post(client, server.url())
        assert server.accepted == 2


@both_loops
async def test_release_after_end_pools_the_connection_once_the_rest_of_the_body_arrives() -> None:
    """A stream's reader stops at `[DONE]`; the chunked terminator comes a moment later."""
    later = asyncio.Event()

    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send_drain(chunked_head() + chunk(b"data: [DONE]\n\n"))
            await later.wait()
            await peer.send_drain(chunk(b"trailing bytes nobody reads") + LAST_CHUNK)

    async with RawServer(handler) as server, open_client() as client:
        for _ in range(3):
            later.clear()
            resp = await post(client, server.url())
            assert await anext(resp.iter_any()) == b"data: [DONE]\n\n"
            resp.release_after_end()
            assert idle_count(client) == 0  # not yet: the body has not ended
            later.set()
            await until(lambda: idle_count(client) == 1)
            resp.release_after_end()  # idempotent
        assert server.accepted == 1


@both_loops
async def test_release_after_end_closes_when_the_rest_is_too_slow_or_too_big() -> None:
    released = asyncio.Event()

    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send_drain(chunked_head() + chunk(b"data: [DONE]\n\n"))
            if peer.index == 1:
                await released.wait()
                await peer.send_drain(chunk(b"x" * 5000))
            await peer.wait_eof(timeout=30)

    async with RawServer(handler) as server, open_client() as client:
        slow = await post(client, server.url())
        assert await anext(slow.iter_any()) == b"data: [DONE]\n\n"
        slow.release_after_end(timeout=0.05)
        await server.peers[0].wait_eof()  # closed after the timeout, never pooled
        big = await post(client, server.url())
        assert await anext(big.iter_any()) == b"data: [DONE]\n\n"
        big.release_after_end(max_bytes=100, timeout=30)
        released.set()
        await server.peers[1].wait_eof()
        assert idle_count(client) == 0 and server.accepted == 2


@both_loops
async def test_iter_any_yields_pieces_as_they_arrive() -> None:
    go = asyncio.Event()

    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send_drain(chunked_head() + chunk(b"first"))
            await go.wait()
            await peer.send_drain(chunk(b"second") + LAST_CHUNK)

    async with RawServer(handler) as server, open_client() as client:
        resp = await post(client, server.url())
        pieces = resp.iter_any()
        assert await anext(pieces) == b"first"  # arrives while the server still holds the rest back
        go.set()
        assert await anext(pieces) == b"second"
        with pytest.raises(StopAsyncIteration):
            await anext(pieces)
        assert await resp.read() == b""
        assert idle_count(client) == 1  # consumed to the end: back in the pool without release()
        resp.release()
        resp = await post(client, server.url())
        assert b"".join([p async for p in resp.iter_any()]) == b"firstsecond"
        assert server.accepted == 1


@both_loops
async def test_bodiless_and_interim_responses() -> None:
    replies = iter([
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
        + response(200, b"after-interim", [("X-Final", "1")]),
        response(204, reason="No Content", length=False),
        response(304, reason="Not Modified", length=False),
        response(200, b""),
    ])
    async with RawServer(answer_each(lambda _r: next(replies))) as server, open_client() as client:
        resp = await post(client, server.url())
        assert resp.status == 200 and "link" not in resp.headers and resp.headers["x-final"] == "1"
        assert await resp.read() == b"after-interim"
        for status in (204, 304, 200):
            resp = await post(client, server.url())
            assert resp.status == status
            assert resp.content_type == "application/octet-stream"
            resp.release()  # nothing to read: the body is trivially consumed, the connection pooled
        assert server.accepted == 1
        assert idle_count(client) == 1


async def test_content_type_rules() -> None:
    values = iter([None, "Text/Event-Stream; charset=utf-8", "nonsense", " application/JSON "])
    expected = ["application/octet-stream", "text/event-stream", "application/octet-stream",
                "application/json"]

    def make(_request: Request) -> bytes:
        value = next(values)
        return response(200, b"{}", [] if value is None else [("Content-Type", value)])

    async with RawServer(answer_each(make)) as server, open_client() as client:
        for media in expected:
            resp = await post(client, server.url())
            assert resp.content_type == media
            await resp.read()


# -- the pool ----------------------------------------------------------------------------------------

@both_loops
async def test_sequential_requests_reuse_one_connection() -> None:
    async with RawServer(ok_json()) as server, open_client() as client:
        for _ in range(5):
            resp = await post(client, server.url())
            assert await resp.read() == b'{"ok":true}'
            resp.release()
        assert server.accepted == 1
        assert len(server.peers[0].requests) == 5


@both_loops
async def test_connection_close_and_http10_responses_are_not_reused() -> None:
    replies = iter([
        response(200, b"a", [("Connection", "close")]),  # the server keeps the socket open anyway
        response(200, b"b", version="1.0"),
        response(200, b"c"),
        response(200, b"d"),
    ])
    async with RawServer(answer_each(lambda _r: next(replies))) as server, open_client() as client:
        for expected in (b"a", b"b", b"c", b"d"):
            resp = await post(client, server.url())
            assert await resp.read() == expected
        assert server.accepted == 3
        await server.peers[0].wait_eof()
        await server.peers[1].wait_eof()


@both_loops
async def test_concurrency_opens_then_reuses_connections() -> None:
    arrived = 0
    all_arrived = asyncio.Event()

    async def handler(peer: Peer) -> None:
        nonlocal arrived
        while await peer.request() is not None:
            arrived += 1
            if arrived >= 50:
                all_arrived.set()
            await all_arrived.wait()  # hold every answer until 50 requests are in flight at once
            await peer.send_drain(response(200, b"ok"))

    async def one(client: UpstreamHttp, url: str) -> bytes:
        resp = await post(client, url)
        return await resp.read()

    async with RawServer(handler) as server, open_client() as client:
        assert await asyncio.gather(*(one(client, server.url()) for _ in range(50))) == [b"ok"] * 50
        assert server.accepted == 50
        assert idle_count(client) == 50
        assert await asyncio.gather(*(one(client, server.url()) for _ in range(50))) == [b"ok"] * 50
        assert server.accepted == 50
        assert all(len(peer.requests) == 2 for peer in server.peers)


@both_loops
async def test_idle_connections_above_the_cap_are_closed() -> None:
    arrived = 0
    all_arrived = asyncio.Event()

    async def handler(peer: Peer) -> None:
        nonlocal arrived
        while await peer.request() is not None:
            arrived += 1
            if arrived >= 5:
                all_arrived.set()
            await all_arrived.wait()
            await peer.send_drain(response(200, b"ok"))

    async def one(client: UpstreamHttp, url: str) -> bytes:
        return await (await post(client, url)).read()

    async with RawServer(handler) as server, open_client(max_idle_per_host=2) as client:
        await asyncio.gather(*(one(client, server.url()) for _ in range(5)))
        assert server.accepted == 5 and idle_count(client) == 2
        await until(lambda: sum(peer.eof.is_set() for peer in server.peers) == 3)
        for _ in range(2):
            await one(client, server.url())
        assert server.accepted == 5


@both_loops
async def test_idle_connection_expires_after_keepalive_timeout() -> None:
    async with RawServer(ok_json()) as server, open_client(keepalive_timeout=0.05) as client:
        await (await post(client, server.url())).read()
        assert idle_count(client) == 1
        await server.peers[0].wait_eof()  # the sweep closed it without any new request
        assert idle_count(client) == 0
        await (await post(client, server.url())).read()
        assert server.accepted == 2


async def test_expired_idle_connection_is_skipped_when_taken() -> None:
    async with RawServer(ok_json()) as server, open_client(keepalive_timeout=30) as client:
        await (await post(client, server.url())).read()
        (conn,) = [conn for idle in client._idle.values() for conn in idle]
        conn.idle_since -= 31  # as if it had idled past keepalive_timeout before the sweep ran
        await (await post(client, server.url())).read()
        assert server.accepted == 2
        await server.peers[0].wait_eof()


@both_loops
async def test_server_closing_an_idle_connection_removes_it_from_the_pool() -> None:
    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send_drain(response(200, b"ok"))
            if peer.index == 0:
                await asyncio.sleep(0.02)
                peer.close()
                return

    async with RawServer(handler) as server, open_client() as client:
        await (await post(client, server.url())).read()
        assert idle_count(client) == 1
        await until(lambda: idle_count(client) == 0)  # connection_lost took it out at once
        assert await (await post(client, server.url())).read() == b"ok"
        assert server.accepted == 2
        assert len(server.peers[0].requests) == 1  # no request was sent to the dead connection


@both_loops
async def test_unsolicited_bytes_on_an_idle_connection_close_it() -> None:
    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send_drain(response(200, b"ok"))
            if peer.index == 0:
                await asyncio.sleep(0.02)
                await peer.send_drain(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await peer.wait_eof()
                return

    async with RawServer(handler) as server, open_client() as client:
        await (await post(client, server.url())).read()
        await server.peers[0].wait_eof()
        assert idle_count(client) == 0
        assert await (await post(client, server.url())).read() == b"ok"
        assert server.accepted == 2


@both_loops
async def test_extra_bytes_after_a_response_prevent_reuse() -> None:
    # a second response in the same segment must not leak its body into the first one's
    extra = response(200, b"ok") + response(200, b"EXTRA-BODY")
    async with RawServer(answer_each(lambda _r: extra)) as server, open_client() as client:
        for _ in range(2):
            assert await (await post(client, server.url())).read() == b"ok"
        resp = await post(client, server.url())
        assert [piece async for piece in resp.iter_any()] == [b"ok"]
        assert server.accepted == 3


@pytest.mark.parametrize("how", ["close", "reset"])
@both_loops
async def test_stale_reused_connection_is_retried_once_on_a_fresh_one(how: str) -> None:
    async def handler(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            await peer.send_drain(response(200, b"first"))
            await peer.request()  # the next request arrives on the reused connection ...
            if how == "reset":  # ... and the server drops it without a byte of answer
                peer.reset()
            else:
                peer.close()
            return
        while await peer.request() is not None:
            await peer.send_drain(response(200, b"fresh"))

    async with RawServer(handler) as server, open_client() as client:
        assert await (await post(client, server.url())).read() == b"first"
        assert await (await post(client, server.url())).read() == b"fresh"
        assert server.accepted == 2
        assert server.peers[1].requests[0].body == BODY


@both_loops
async def test_fresh_connection_closed_before_answering_is_not_retried() -> None:
    async def handler(peer: Peer) -> None:
        if await peer.request() is not None:
            peer.close()

    async with RawServer(handler) as server, open_client() as client:
        with pytest.raises(ServerDisconnected) as caught:
            await post(client, server.url())
        assert caught.value.phase == "head"
        assert server.accepted == 1
        assert_clean(caught.value)


@both_loops
async def test_reused_connection_is_not_retried_once_a_response_byte_arrived() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send_drain(response(200, b"first"))
        await peer.request()
        await peer.send_drain(b"HTTP/1.1 200 O")
        peer.close()

    async with RawServer(handler) as server, open_client() as client:
        await (await post(client, server.url())).read()
        with pytest.raises(ServerDisconnected) as caught:
            await post(client, server.url())
        assert caught.value.phase == "head"
        assert server.accepted == 1


# -- failures -------------------------------------------------------------------------------------------

@both_loops
async def test_disconnect_in_the_middle_of_the_body() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        if peer.index == 0:
            await peer.send_drain(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        else:
            await peer.send_drain(chunked_head() + chunk(b"piece"))
        await asyncio.sleep(0.01)
        peer.close()

    async with RawServer(handler) as server, open_client() as client:
        resp = await post(client, server.url())
        with pytest.raises(ServerDisconnected) as caught:
            await resp.read()
        assert caught.value.phase == "body"
        assert_clean(caught.value)
        resp = await post(client, server.url())
        pieces = resp.iter_any()
        assert await anext(pieces) == b"piece"
        with pytest.raises(ServerDisconnected):
            await anext(pieces)
        resp.release()
        assert idle_count(client) == 0


@pytest.mark.parametrize("reply", [
    b"garbage\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
], ids=["status-line", "content-length", "header-line", "chunk-size", "upgrade"])
@both_loops
async def test_malformed_response_is_a_protocol_error(reply: bytes) -> None:
    async with RawServer(stall_after(reply)) as server, open_client() as client:
        with pytest.raises(ProtocolError) as caught:
            resp = await post(client, server.url())
            await resp.read()
        assert_clean(caught.value)
        await server.peers[0].wait_eof()  # the connection was dropped


@both_loops
async def test_connect_refused() -> None:
    port = free_port_refusing()
    async with open_client() as client:
        with pytest.raises(ConnectFailed) as caught:
            await post(client, f"http://127.0.0.1:{port}/v1/x")
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "refused" in message.lower() or "111" in message or "connect call failed" in message.lower()
    assert isinstance(caught.value.__cause__, OSError)
    assert_clean(caught.value)


@pytest.fixture
def full_backlog() -> Any:
    """A listening socket whose accept queue is full: a new connect hangs in SYN retries."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.05)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


@both_loops
async def test_connect_timeout(full_backlog: int) -> None:
    async with open_client() as client:
        started = time.monotonic()
        with pytest.raises(ConnectTimeout) as caught:
            await post(client, f"http://127.0.0.1:{full_backlog}/v1/x",
                       timeouts=Timeouts(connect=0.1, total=5))
        assert 0.09 < time.monotonic() - started < 1.0
        assert isinstance(caught.value, TimeoutError)
        with pytest.raises(TotalTimeout):  # the total timeout also bounds connecting
            await post(client, f"http://127.0.0.1:{full_backlog}/v1/x",
                       timeouts=Timeouts(connect=5, total=0.1))


async def test_connect_timeout_covers_a_slow_create_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def slow_create_connection(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(10)

    monkeypatch.setattr(loop, "create_connection", slow_create_connection)
    async with open_client() as client:
        with pytest.raises(ConnectTimeout):
            await post(client, "http://127.0.0.1:9/v1/x", timeouts=Timeouts(connect=0.05))


@both_loops
async def test_read_timeout_waiting_for_the_head() -> None:
    async with RawServer(stall_after(b"")) as server, open_client() as client:
        started = time.monotonic()
        with pytest.raises(ReadTimeout) as caught:
            await post(client, server.url(), timeouts=Timeouts(read=0.1, total=5))
        assert 0.09 < time.monotonic() - started < 1.0
        assert isinstance(caught.value, TimeoutError)
        assert_clean(caught.value)
        await server.peers[0].wait_eof()  # closed, never pooled
        assert idle_count(client) == 0


@both_loops
async def test_read_timeout_between_two_chunks() -> None:
    async with RawServer(stall_after(chunked_head() + chunk(b"one"))) as server, open_client() as client:
        resp = await post(client, server.url(), timeouts=Timeouts(read=0.1))
        pieces = resp.iter_any()
        assert await anext(pieces) == b"one"
        with pytest.raises(ReadTimeout):
            await anext(pieces)
        with pytest.raises(ReadTimeout):  # and it stays failed
            await resp.read()
        await server.peers[0].wait_eof()


@both_loops
async def test_total_timeout_during_a_slow_body() -> None:
    async def trickle(peer: Peer) -> None:
        if await peer.request() is not None:
            await peer.send_drain(chunked_head())
            while not peer.eof.is_set():
                await peer.send_drain(chunk(b"x" * 100))
                await asyncio.sleep(0.01)

    async with RawServer(trickle) as server, open_client() as client:
        started = time.monotonic()
        resp = await post(client, server.url(), timeouts=Timeouts(read=1, total=0.2))
        with pytest.raises(TotalTimeout):
            await resp.read()  # every gap is short, the whole is too long
        assert 0.19 < time.monotonic() - started < 1.0
        # a consumer slow enough that data is always buffered never waits: the deadline still holds
        started = time.monotonic()
        resp = await post(client, server.url(), timeouts=Timeouts(read=1, total=0.2))
        with pytest.raises(TotalTimeout):
            async for _piece in resp.iter_any():
                await asyncio.sleep(0.03)
        assert time.monotonic() - started < 1.0
        assert idle_count(client) == 0


@both_loops
async def test_error_statuses_are_returned_not_raised() -> None:
    replies = iter([
        response(429, b'{"error":{"message":"slow down"}}', [("Retry-After", "7"),
                                                             ("Content-Type", "application/json")],
                 reason="Too Many Requests"),
        response(503, b"<html>down</html>", [("Content-Type", "text/html")], reason="Service Unavailable"),
    ])
    async with RawServer(answer_each(lambda _r: next(replies))) as server, open_client() as client:
        resp = await post(client, server.url())
        assert (resp.status, resp.reason) == (429, "Too Many Requests")
        assert resp.headers.get("retry-after") == "7" and "Retry-After" in resp.headers
        assert await resp.read() == b'{"error":{"message":"slow down"}}'
        resp = await post(client, server.url())
        assert resp.status == 503 and resp.content_type == "text/html"
        assert await resp.read() == b"<html>down</html>"
        assert server.accepted == 1


# -- giving up on a response --------------------------------------------------------------------------

@both_loops
async def test_release_of_an_unread_response_closes_the_connection() -> None:
    async with RawServer(answer_each(lambda _r: response(200, b"z" * 1000))) as server, \
            open_client() as client:
        resp = await post(client, server.url())
        resp.release()
        resp.release()
        with pytest.raises(ClientClosed):
            await resp.read()
        await server.peers[0].wait_eof()
        assert await (await post(client, server.url())).read() == b"z" * 1000
        assert server.accepted == 2


@both_loops
async def test_dropping_an_unreleased_response_closes_its_connection() -> None:
    async with RawServer(answer_each(lambda _r: response(200, b"z" * 10))) as server, open_client() as client:
        resp = await post(client, server.url())
        del resp
        gc.collect()
        await server.peers[0].wait_eof()
        assert idle_count(client) == 0


@both_loops
async def test_close_of_a_response_while_another_task_reads_it() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc"
    async with RawServer(stall_after(head)) as server, open_client() as client:
        resp = await post(client, server.url())
        reader = asyncio.create_task(resp.read())
        await asyncio.sleep(0.02)
        assert not reader.done()
        resp.close()
        resp.close()
        with pytest.raises(ClientClosed):
            await asyncio.wait_for(reader, 1)
        await server.peers[0].wait_eof()


async def test_two_tasks_reading_one_response_is_refused() -> None:
    async with RawServer(stall_after(chunked_head() + chunk(b"one"))) as server, open_client() as client:
        resp = await post(client, server.url())
        first = asyncio.create_task(resp.read())
        await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError):
            await resp.read()
        resp.close()
        with pytest.raises(ClientClosed):
            await first


@both_loops
async def test_a_task_cancelled_mid_read_closes_the_connection() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        if peer.index == 0:
            await peer.send_drain(chunked_head() + chunk(b"one"))
            await peer.wait_eof(timeout=30)
        else:
            await peer.send_drain(response(200, b"fresh"))

    async with RawServer(handler) as server, open_client() as client:
        resp = await post(client, server.url())

        async def consume() -> None:
            async for _piece in resp.iter_any():
                pass

        reader = asyncio.create_task(consume())
        await asyncio.sleep(0.02)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        await server.peers[0].wait_eof()
        assert await (await post(client, server.url())).read() == b"fresh"
        assert server.accepted == 2


@both_loops
async def test_client_close_closes_idle_and_busy_connections() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        if peer.index == 0:
            await peer.send_drain(chunked_head() + chunk(b"one"))
        else:
            await peer.send_drain(response(200, b"ok"))
        await peer.wait_eof(timeout=30)

    async with RawServer(handler) as server:
        client = UpstreamHttp()
        busy = await post(client, server.url())
        await (await post(client, server.url())).read()
        assert idle_count(client) == 1
        reader = asyncio.create_task(busy.read())
        await asyncio.sleep(0.01)
        await client.close()
        assert client.closed
        with pytest.raises(ClientClosed):
            await asyncio.wait_for(reader, 1)
        await server.peers[0].wait_eof()
        await server.peers[1].wait_eof()
        with pytest.raises(ClientClosed):
            await post(client, server.url())
        await client.close()
        assert server.accepted == 2


# -- refusing bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {"X-Key": f"{CANARY}\r\nInjected: 1"},
    {"X-Key": f"{CANARY}\n"},
    {"X-Key": f"\r{CANARY}"},
    {"X-Key": f"{CANARY}\0"},
    {"Bad Name": CANARY},
    {"": CANARY},
    {"X-Key:": CANARY},
    {"X-Key\r\nInjected": CANARY},
    {f"{CANARY}\n": "v"},
    {"X-Key": "\udcff" + CANARY},
], ids=["crlf", "lf", "cr", "nul", "space-in-name", "empty-name", "colon-in-name", "crlf-in-name",
        "secret-as-name", "surrogate"])
async def test_invalid_header_is_refused_before_anything_is_sent(headers: dict[str, str]) -> None:
    async with RawServer(ok_json()) as server, open_client() as client:
        with pytest.raises(InvalidHeader) as caught:
            await post(client, server.url(), headers={"Content-Type": "application/json", **headers})
        assert_clean(caught.value)
        assert server.accepted == 0


async def test_non_ascii_header_values_are_sent_as_utf8() -> None:
    async with RawServer(ok_json()) as server, open_client() as client:
        await (await post(client, server.url(), headers={"X-Name": "café"})).read()
        request = server.peers[0].requests[0]
        assert request.header("X-Name") == "café".encode().decode("latin-1")


@pytest.mark.parametrize("url", [
    "", "ftp://example.com/x", "example.com/v1", "/v1/chat", "http:///v1", "http://:80/v1",
    "http://example.com:99999/v1", "http://example.com:abc/v1", "http://example.com:0/v1",
    "http://exa mple.com/v1", "http://example.com/v1\r\nX-Injected: 1", "http://example.com/v1 x",
    "http://example.com/\x00", "\thttp://example.com/", "http://[::1/v1", "http://a..b/v1",
    f"http://{'a' * 64}.example/v1",
])
async def test_invalid_url(url: str) -> None:
    async with open_client() as client:
        with pytest.raises(InvalidUrl) as caught:
            await post(client, url)
    seen: BaseException | None = caught.value
    while seen is not None:
        assert "hunter2" not in str(seen)
        seen = seen.__cause__ or seen.__context__
    assert isinstance(caught.value, UpstreamHttpError)


async def test_url_credentials_become_basic_authorization_and_never_clash_with_a_key() -> None:
    async with RawServer(ok_json()) as server, open_client() as client:
        url = server.url("/v1").replace("://", "://us%40er:hun%3Ater2@")
        headers = {k: v for k, v in HEADERS.items() if k.lower() != "authorization"}
        await (await post(client, url, headers=headers)).read()
        assert server.peers[0].requests[0].header("Authorization") == "Basic dXNAZXI6aHVuOnRlcjI="
        with pytest.raises(InvalidUrl) as caught:  # a URL password and an API key: one too many
            await post(client, url)
    assert "hun" not in str(caught.value) and CANARY not in str(caught.value)
    assert "hunter2" not in repr(parse_url("http://user:hunter2@example.com/v1"))


@pytest.mark.parametrize(("url", "host", "port", "target", "host_header"), [
    ("http://Example.COM/v1/chat", "example.com", 80, b"/v1/chat", "example.com"),
    ("https://example.com", "example.com", 443, b"/", "example.com"),
    ("https://example.com:443/v1?a=1&b=%20#frag", "example.com", 443, b"/v1?a=1&b=%20", "example.com"),
    ("http://example.com:8080?q", "example.com", 8080, b"/?q", "example.com:8080"),
    ("HTTP://[::1]:8000/v1", "::1", 8000, b"/v1", "[::1]:8000"),
    ("https://[2001:db8::1]/v1", "2001:db8::1", 443, b"/v1", "[2001:db8::1]"),
    ("http://127.0.0.1:80/v1", "127.0.0.1", 80, b"/v1", "127.0.0.1"),
    ("http://my_service:8000/v1", "my_service", 8000, b"/v1", "my_service:8000"),
    ("http://bücher.example/v1/é?x=ü", "xn--bcher-kva.example", 80, b"/v1/%C3%A9?x=%C3%BC",
     "xn--bcher-kva.example"),
])
def test_url_parsing(url: str, host: str, port: int, target: bytes, host_header: str) -> None:
    parsed = parse_url(url)
    assert (parsed.host, parsed.port, parsed.target, parsed.host_header) == (host, port, target, host_header)


@both_loops
async def test_no_header_value_or_body_in_any_error(full_backlog: int) -> None:
    async def scripted(peer: Peer) -> None:
        await peer.request()
        if peer.index == 0:
            await peer.send_drain(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
            peer.close()
        elif peer.index == 1:
            await peer.send_drain(b"HTTP/1.1 200 OK\r\nX: " + CANARY.encode() + b"\n\x00\r\n\r\n")
        else:
            await peer.wait_eof(timeout=30)

    errors: list[BaseException] = []
    async with RawServer(scripted) as server, open_client() as client:
        for timeouts in (TIMEOUTS, TIMEOUTS, Timeouts(read=0.05)):
            try:
                await (await post(client, server.url(), timeouts=timeouts)).read()
            except UpstreamHttpError as exc:
                errors.append(exc)
        for url, timeouts in ((f"http://127.0.0.1:{free_port_refusing()}/", TIMEOUTS),
                              (f"http://127.0.0.1:{full_backlog}/", Timeouts(connect=0.05)),
                              (f"http://127.0.0.1:{full_backlog}/", Timeouts(total=0.05))):
            try:
                await post(client, url, timeouts=timeouts)
            except UpstreamHttpError as exc:
                errors.append(exc)
    try:
        await post(client, server.url())
    except UpstreamHttpError as closed:
        errors.append(closed)
    assert [type(error) for error in errors] == [ServerDisconnected, ProtocolError, ReadTimeout,
                                                 ConnectFailed, ConnectTimeout, TotalTimeout, ClientClosed]
    for error in errors:
        assert_clean(error)


# -- flow control and TLS -----------------------------------------------------------------------------

@both_loops
async def test_flow_control_with_a_large_body() -> None:
    big = bytes(range(256)) * (5 * 1024 * 1024 // 256)
    limit = 64 * 1024
    async with RawServer(answer_each(lambda _r: response(200, big))) as server, \
            open_client(read_buffer_limit=limit) as client:
        resp = await post(client, server.url())
        body = await resp.read()
        assert len(body) == len(big) and hashlib.sha256(body).digest() == hashlib.sha256(big).digest()
        # a slow consumer: reading is paused past the limit, so what piles up stays near the limit
        # (one socket read of up to 256 KiB may land after the pause) instead of the whole body
        resp = await post(client, server.url())
        sizes = []
        digest = hashlib.sha256()
        async for piece in resp.iter_any():
            sizes.append(len(piece))
            digest.update(piece)
            await asyncio.sleep(0.002)
        assert sum(sizes) == len(big) and digest.digest() == hashlib.sha256(big).digest()
        assert max(sizes) <= limit + 256 * 1024 + 1024
        assert server.accepted == 1  # and the connection stayed reusable


@both_loops
async def test_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with RawServer(ok_json(b'{"tls":true}'), ssl_context=server_context) as server:
        async with open_client(ssl_context=trusting) as client:
            for host in ("localhost", "localhost", "127.0.0.1"):
                resp = await post(client, server.url(host=host))
                assert await resp.read() == b'{"tls":true}'
            assert server.accepted == 2  # one connection per (scheme, host, port)
            assert server.peers[0].requests[0].header("Host") == f"localhost:{server.port}"
        async with open_client() as client:  # the default context does not trust a self-signed cert
            with pytest.raises(ConnectFailed) as caught:
                await post(client, server.url(host="localhost"))
            assert "certificate" in str(caught.value).lower()


@both_loops
async def test_tls_body_until_close(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)

    async def handler(peer: Peer) -> None:
        if await peer.request() is not None:
            await peer.send_drain(b"HTTP/1.1 200 OK\r\n\r\nuntil-")
            await asyncio.sleep(0.01)
            await peer.send_drain(b"close")
            peer.close()

    async with RawServer(handler, ssl_context=server_context) as server, \
            open_client(ssl_context=ssl.create_default_context(cafile=str(cert))) as client:
        resp = await post(client, server.url(host="localhost"))
        assert await resp.read() == b"until-close"


@both_loops
async def test_tls_large_body_and_streaming(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    big = b"0123456789abcdef" * 65536  # 1 MiB
    replies = iter([response(200, big), chunked_head() + chunk(b"a") + chunk(b"b") + LAST_CHUNK])
    async with RawServer(answer_each(lambda _r: next(replies)), ssl_context=server_context) as server, \
            open_client(ssl_context=ssl.create_default_context(cafile=str(cert)),
                        read_buffer_limit=32 * 1024) as client:
        assert await (await post(client, server.url(host="localhost"))).read() == big
        resp = await post(client, server.url(host="localhost"))
        assert b"".join([piece async for piece in resp.iter_any()]) == b"ab"
        assert server.accepted == 1
