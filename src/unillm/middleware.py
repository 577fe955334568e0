"""Pure ASGI middlewares (Starlette's BaseHTTPMiddleware costs a task per request and breaks the
cancellation of streams, so the hot path avoids it).

- `RequestIdMiddleware`: every response carries `x-request-id` (the client's, when well-formed).
- `BodyLimitMiddleware`: a body over the limit is answered 413 before it is buffered: at once from
  Content-Length, or as soon as a chunked body passes the limit.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"


def _valid_request_id(value: bytes) -> bool:
    return 0 < len(value) <= 64 and all(ch in _REQUEST_ID_CHARS for ch in value)


_REQUEST_ID_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def request_id_of(scope: Scope) -> str:
    """The request id the middleware assigned (stored in the scope's state)."""
    state: dict[str, Any] = scope.setdefault("state", {})
    return str(state["request_id"])


def assign_request_id(scope: Scope) -> bytes:
    """Take the client's `x-request-id` when well-formed, else a new random one; keep it in the scope's
    state (`request_id_of`) and return it for the response header."""
    supplied = next((v for k, v in scope["headers"] if k == REQUEST_ID_HEADER), b"")
    request_id = supplied.decode() if _valid_request_id(supplied) else os.urandom(16).hex()
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id.encode()


def with_request_id(message: Message, encoded: bytes) -> Message:
    """A response start message carrying `x-request-id` (replacing one the app may have set)."""
    if message["type"] == "http.response.start":
        headers = [(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_HEADER]
        headers.append((REQUEST_ID_HEADER, encoded))
        message["headers"] = headers
    return message


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        encoded = assign_request_id(scope)

        async def send_with_id(message: Message) -> None:
            await send(with_request_id(message, encoded))

        await self.app(scope, receive, send_with_id)


class BodyTooLarge(Exception):
    pass


def declared_body_too_large(scope: Scope, max_body_bytes: int) -> bool:
    """Content-Length over the limit (or not a number): refuse before reading a byte."""
    for key, value in scope["headers"]:
        if key == b"content-length":
            return not value.isdigit() or int(value) > max_body_bytes
    return False


def counting(receive: Receive, max_body_bytes: int) -> Receive:
    """`receive` that raises BodyTooLarge as soon as a (chunked) body passes the limit."""
    received = 0

    async def counting_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_body_bytes:
                raise BodyTooLarge
        return message

    return counting_receive


async def reject_too_large(scope: Scope, send: Send, max_body_bytes: int) -> None:
    """413 in the shape of the path: the OpenAI envelope under /v1/, `{"detail"}` elsewhere."""
    message = f"request body is larger than the limit of {max_body_bytes} bytes"
    if scope["path"].startswith("/v1/"):
        body = orjson.dumps({"error": {"message": message, "type": "invalid_request_error",
                                       "param": None, "code": "request_too_large"}})
    else:
        body = orjson.dumps({"detail": message})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_body_too_large(scope, self.max_body_bytes):
            await reject_too_large(scope, send, self.max_body_bytes)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting(receive, self.max_body_bytes), tracking_send)
        except BodyTooLarge:
            if not response_started:
                await reject_too_large(scope, send, self.max_body_bytes)


_MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AdminChangeRefreshMiddleware:
    """After a successful admin change, refresh this process's in-memory state (keys, users, rules,
    routes, prices) *before* the response goes out: once a client sees "revoked", the key fails here.

    One place instead of a call in every router; each component rebuilds only if the config version
    that the change bumped differs from the one it holds, so a change that bumped nothing costs a read.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in _MUTATING_METHODS
                or not scope["path"].startswith("/api/")):
            await self.app(scope, receive, send)
            return

        async def send_after_refresh(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                await refresh_local_state(scope["app"].state.runtime)
            await send(message)

        await self.app(scope, receive, send_after_refresh)


async def refresh_local_state(runtime: Any) -> None:
    for name in ("snapshot", "gateway"):
        component = runtime.components.get(name)
        if component is not None:
            await component.refresh_if_changed()
