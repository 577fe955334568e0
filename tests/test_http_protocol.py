"""The uvicorn protocol that sends a response's head with its body: one write for a JSON answer,
everything else as before, and correct HTTP through a real uvicorn server."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn

from unillm.http_protocol import CoalescingHttpToolsProtocol, HeadHoldingTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n"


class RecordingTransport:
    """Stands in for the socket transport underneath: records what reaches it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return f"info:{name}"


def _wrapped() -> tuple[HeadHoldingTransport, RecordingTransport]:
    inner = RecordingTransport()
    return HeadHoldingTransport(inner, asyncio.get_running_loop()), inner  # type: ignore[arg-type]


async def test_a_head_announcing_a_body_goes_out_with_the_body_in_one_write() -> None:
    transport, inner = _wrapped()
    transport.write(HEAD)
    assert inner.writes == []
    transport.write(b'{"ok":true}')
    assert inner.writes == [HEAD + b'{"ok":true}']
    await asyncio.sleep(0)  # the safety flush finds nothing left to send
    assert inner.writes == [HEAD + b'{"ok":true}']


async def test_heads_without_a_body_to_wait_for_are_written_at_once() -> None:
    transport, inner = _wrapped()
    empty = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
    chunked = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    transport.write(empty)
    transport.write(chunked)
    transport.write(b"5\r\nhello\r\n")
    assert inner.writes == [empty, chunked, b"5\r\nhello\r\n"]


async def test_a_held_head_is_sent_alone_when_the_body_does_not_follow_in_the_same_iteration() -> None:
    transport, inner = _wrapped()
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert inner.writes == [HEAD]
    transport.write(b'{"ok":true}')
    assert inner.writes == [HEAD, b'{"ok":true}']


async def test_close_sends_a_held_head_first_and_other_calls_pass_through() -> None:
    transport, inner = _wrapped()
    transport.write(HEAD)
    transport.close()
    assert inner.writes == [HEAD] and inner.closed
    assert transport.get_extra_info("peername") == "info:peername"


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"data: %d\n\n" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["path"] == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    answer = b'{"echo":' + body + b"}"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})


def _read_response(sock: socket.socket, buffer: bytearray) -> tuple[bytes, bytes]:
    """One response off a keep-alive connection: (head, body), de-chunked."""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end])
    del buffer[:end]
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        body = b""
        while True:
            while b"\r\n" not in buffer:
                buffer += sock.recv(65536)
            size_end = buffer.index(b"\r\n")
            size = int(buffer[:size_end], 16)
            while len(buffer) < size_end + 2 + size + 2:
                buffer += sock.recv(65536)
            body += bytes(buffer[size_end + 2:size_end + 2 + size])
            del buffer[:size_end + 2 + size + 2]
            if size == 0:
                return head, body
    length = 0
    for line in lowered.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(buffer) < length:
        buffer += sock.recv(65536)
    body = bytes(buffer[:length])
    del buffer[:length]
    return head, body


def _exchange(port: int) -> list[tuple[bytes, bytes]]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        buffer = bytearray()
        answers = []
        for path, body in (("/json", b"1"), ("/stream", b""), ("/empty", b""), ("/json", b"[2,3]")):
            sock.sendall(b"POST %s HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n\r\n%s"
                         % (path.encode(), len(body), body))
            answers.append(_read_response(sock, buffer))
        # two requests in one segment (pipelined): both answered, in order
        sock.sendall(b"POST /json HTTP/1.1\r\nhost: t\r\ncontent-length: 1\r\n\r\n4"
                     b"POST /json HTTP/1.1\r\nhost: t\r\ncontent-length: 1\r\n\r\n5")
        answers.append(_read_response(sock, buffer))
        answers.append(_read_response(sock, buffer))
        return answers


async def test_a_real_uvicorn_server_answers_correctly_on_one_keep_alive_connection() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_app, http=CoalescingHttpToolsProtocol, loop="none", log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        answers = await asyncio.to_thread(_exchange, port)
    finally:
        server.should_exit = True
        await serving
    statuses = [head.split(b" ")[1] for head, _ in answers]
    assert statuses == [b"200", b"200", b"204", b"200", b"200", b"200"]
    assert [body for _, body in answers] == [b'{"echo":1}', b"data: 0\n\ndata: 1\n\ndata: 2\n\n", b"",
                                            b'{"echo":[2,3]}', b'{"echo":4}', b'{"echo":5}']
