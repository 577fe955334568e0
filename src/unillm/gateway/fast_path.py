"""The gateway's POST routes served before FastAPI's own ASGI stack.

Starlette's error middleware, FastAPI's body-limit and telemetry layers, the admin-change middleware
and the router each wrap every request and every `send`: about a tenth of a gateway request's CPU
under load (py-spy), for nothing the gateway needs. `UnillmApp.__call__` hands these routes here
first. This calls the very same handler functions that the FastAPI routes register (so OpenAPI still
documents them and there is one code path), and does in one layer what the gateway needs of the
others: the request id, the body limit (413 before buffering), `UnillmError` rendered by the app's
own handler, and a 500 in the OpenAI envelope for anything unexpected.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from unillm.errors import UnillmError
from unillm.gateway.router import chat_completions, embeddings
from unillm.middleware import (
    BodyTooLarge,
    assign_request_id,
    counting,
    declared_body_too_large,
    reject_too_large,
    with_request_id,
)

Handler = Callable[[Request], Awaitable[Response]]
ErrorRenderer = Callable[[Request, Exception], Awaitable[Response]]

FAST_ROUTES: dict[str, Handler] = {"/v1/chat/completions": chat_completions, "/v1/embeddings": embeddings}


class GatewayFastPath:
    def __init__(self, *, render_error: ErrorRenderer, render_unexpected: ErrorRenderer,
                 max_body_bytes: int) -> None:
        self.render_error = render_error
        self.render_unexpected = render_unexpected
        self.max_body_bytes = max_body_bytes

    @staticmethod
    def handles(scope: Scope) -> bool:
        return scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in FAST_ROUTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = assign_request_id(scope)
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            response_started = True
            await send(with_request_id(message, request_id))

        if declared_body_too_large(scope, self.max_body_bytes):
            await reject_too_large(scope, send_with_id, self.max_body_bytes)
            return
        request = Request(scope, counting(receive, self.max_body_bytes))
        try:
            response = await FAST_ROUTES[scope["path"]](request)
        except UnillmError as exc:
            response = await self.render_error(request, exc)
        except BodyTooLarge:
            await reject_too_large(scope, send_with_id, self.max_body_bytes)
            return
        except Exception as exc:
            response = await self.render_unexpected(request, exc)
        try:
            await response(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                raise  # mid-stream: the server closes the connection
            await (await self.render_unexpected(request, exc))(scope, receive, send_with_id)
