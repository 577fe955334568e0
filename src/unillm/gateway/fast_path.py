"""The gateway's POST routes served straight from the ASGI layer.

FastAPI's routing, dependency solving and exception layers cost about a tenth of a gateway request
(measured with py-spy under load); the handlers take a bare `Request` and need none of it. This
calls the very same handler functions that the FastAPI routes register (so OpenAPI still documents
them and there is one code path), and renders `UnillmError` with the app's own error handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from unillm.errors import UnillmError
from unillm.gateway.router import chat_completions, embeddings

Handler = Callable[[Request], Awaitable[Response]]
ErrorRenderer = Callable[[Request, Exception], Awaitable[Response]]

FAST_ROUTES: dict[str, Handler] = {"/v1/chat/completions": chat_completions, "/v1/embeddings": embeddings}


class GatewayFastPath:
    def __init__(self, app: ASGIApp, render_error: ErrorRenderer) -> None:
        self.app = app
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = FAST_ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except UnillmError as exc:
            response = await self.render_error(request, exc)
        await response(scope, receive, send)
