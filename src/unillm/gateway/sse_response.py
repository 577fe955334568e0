"""A streaming response that always runs its cleanup: when the client disconnects (whatever ASGI spec
version the server speaks) the body iterator is closed at once, so the upstream call is cancelled and
the usage row is written as cancelled."""

from __future__ import annotations

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from unillm.gateway.relay import Relay


class RelayResponse(Response):
    # A Response subclass only so that FastAPI passes it through untouched; it renders no body.
    media_type = "text/event-stream"

    def __init__(self, relay: Relay, headers: dict[str, str]) -> None:
        self.relay = relay
        self.status_code = 200
        self.background = None
        self.raw_headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
                            (b"x-accel-buffering", b"no")]
        self.raw_headers.extend((k.encode(), v.encode()) for k, v in headers.items())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = False
        async with anyio.create_task_group() as group:

            async def watch_disconnect() -> None:
                nonlocal disconnected
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        disconnected = True
                        group.cancel_scope.cancel()
                        return

            group.start_soon(watch_disconnect)
            try:
                await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
                async for chunk in self.relay:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:
                disconnected = True
            finally:
                with anyio.CancelScope(shield=True):
                    await self.relay.finish(cancelled=disconnected or not self.relay.completed)
                group.cancel_scope.cancel()
