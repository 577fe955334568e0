"""Pure ASGI middlewares (Starlette's BaseHTTPMiddleware costs a task per request and breaks the
cancellation of streams, so the hot path avoids it).

- `RequestIdMiddleware`: every response carries `x-request-id` (the client's, when well-formed).
- `BodyLimitMiddleware`: a body over the limit is answered 413 before it is buffered: at once from
  Content-Length, or as soon as a chunked body passes the limit.
"""

from __future__ import annotations

import uuid
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


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = next((v for k, v in scope["headers"] if k == REQUEST_ID_HEADER), b"")
        request_id = supplied.decode() if _valid_request_id(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        encoded = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, encoded))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length":
                if not value.isdigit() or int(value) > self.max_body_bytes:
                    await self._reject(scope, send)
                    return
                break
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        message = f"request body is larger than the limit of {self.max_body_bytes} bytes"
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
