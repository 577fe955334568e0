"""A deliberately fast OpenAI-shaped upstream for the gateway benchmark.

Why a raw asyncio protocol instead of a web framework: the mock must cost next to nothing, so that
whatever latency and CPU a gateway row shows belongs to the gateway, not to its upstream. A hand-rolled
HTTP/1.1 parser with keep-alive on uvloop answers in well under 0.1 ms.

`POST /v1/chat/completions` answers a fixed completion (echoing the requested model); with
`"stream": true` it answers server-sent events: 16 content chunks, one usage chunk (empty `choices`)
and `data: [DONE]`, in one chunked response. `POST /v1/embeddings` answers one small vector.
`GET /v1/models` lists the model; any other GET (e.g. `/healthz`) answers `{"ok": true}`.

Run: `python bench/mock_upstream.py --port 18001` (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

STREAM_CONTENT_CHUNKS = 16
PROMPT_TOKENS = 12
COMPLETION_TOKENS = STREAM_CONTENT_CHUNKS

_STATUS_TEXT = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed"}


def _response(
    status: int, body: bytes, content_type: bytes = b"application/json", keep_alive: bool = True
) -> bytes:
    head = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n" % (
        status,
        _STATUS_TEXT.get(status, b"OK"),
        content_type,
        len(body),
    )
    if not keep_alive:
        head += b"connection: close\r\n"
    return head + b"\r\n" + body


def _completion(model: str) -> bytes:
    now = int(time.time())
    return json.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": now,
            "model": model,
            "system_fingerprint": "fp_mock",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Hello from the mock upstream.",
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        },
        separators=(",", ":"),
    ).encode()


def _chunk(payload: bytes) -> bytes:
    """One HTTP/1.1 chunk carrying one SSE event."""
    event = b"data: " + payload + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


def _stream(model: str) -> bytes:
    now = int(time.time())
    base = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": now,
        "model": model,
        "system_fingerprint": "fp_mock",
    }
    parts = [
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    ]
    for index in range(STREAM_CONTENT_CHUNKS):
        delta: dict[str, object] = {"content": f"tok{index} "}
        if index == 0:
            delta["role"] = "assistant"
        finish = "stop" if index == STREAM_CONTENT_CHUNKS - 1 else None
        event = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])
        parts.append(_chunk(json.dumps(event, separators=(",", ":")).encode()))
    usage = dict(
        base,
        choices=[],
        usage={
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        },
    )
    parts.append(_chunk(json.dumps(usage, separators=(",", ":")).encode()))
    parts.append(_chunk(b"[DONE]"))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def _embeddings(model: str) -> bytes:
    return json.dumps(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3, 0.4]}],
            "model": model,
            "usage": {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS},
        },
        separators=(",", ":"),
    ).encode()


class _Cache:
    """Pre-rendered bodies per model name: the mock serves thousands of requests per second with the
    same two or three models, so rendering each answer once keeps the mock's cost flat."""

    def __init__(self) -> None:
        self.completions: dict[str, bytes] = {}
        self.streams: dict[str, bytes] = {}
        self.embeddings: dict[str, bytes] = {}

    def completion(self, model: str) -> bytes:
        cached = self.completions.get(model)
        if cached is None:
            cached = self.completions[model] = _response(200, _completion(model))
        return cached

    def stream(self, model: str) -> bytes:
        cached = self.streams.get(model)
        if cached is None:
            cached = self.streams[model] = _stream(model)
        return cached

    def embedding(self, model: str) -> bytes:
        cached = self.embeddings.get(model)
        if cached is None:
            cached = self.embeddings[model] = _response(200, _embeddings(model))
        return cached


_OK = _response(200, b'{"ok":true}')
_MODELS = _response(
    200, b'{"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":0,"owned_by":"mock"}]}'
)


class MockProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and pipelining; only what a gateway or a load generator sends."""

    def __init__(self, cache: _Cache) -> None:
        self.cache = cache
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            lines = head.split(b"\r\n")
            try:
                method, target, _version = lines[0].split(b" ", 2)
            except ValueError:
                self._finish(_response(400, b'{"error":"bad request line"}', keep_alive=False), close=True)
                return
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value.strip())
                elif lowered == b"connection" and value.strip().lower() == b"close":
                    close = True
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            self._finish(self._route(method, target.split(b"?", 1)[0], body), close=close)

    def _finish(self, payload: bytes, *, close: bool) -> None:
        assert self.transport is not None
        self.transport.write(payload)
        if close:
            self.transport.close()
            self.transport = None

    def _route(self, method: bytes, path: bytes, body: bytes) -> bytes:
        if method == b"GET":
            return _MODELS if path.endswith(b"/models") else _OK
        if method != b"POST":
            return _response(405, b'{"error":{"message":"method not allowed"}}')
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            return _response(400, b'{"error":{"message":"invalid JSON","type":"invalid_request_error"}}')
        model = str(request.get("model") or "gpt-4o-mini")
        if path.endswith(b"/chat/completions"):
            return self.cache.stream(model) if request.get("stream") else self.cache.completion(model)
        if path.endswith(b"/embeddings"):
            return self.cache.embedding(model)
        return _response(404, b'{"error":{"message":"not found","type":"invalid_request_error"}}')

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    cache = _Cache()
    server = await loop.create_server(
        lambda: MockProtocol(cache), host, port, backlog=1024, reuse_address=True
    )
    stop = loop.create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop)
    print(f"mock upstream listening on http://{host}:{port}/v1", flush=True)
    async with server:
        await stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18001)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
