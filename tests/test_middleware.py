"""The pure ASGI middlewares: x-request-id on every response, 413 before an oversized body is read."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from unillm.middleware import BodyLimitMiddleware, RequestIdMiddleware


def _app(limit: int) -> tuple[FastAPI, list[int]]:
    app = FastAPI()
    seen: list[int] = []

    @app.post("/v1/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"size": len(body)}

    @app.post("/api/echo")
    async def admin_echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    app.add_middleware(BodyLimitMiddleware, max_body_bytes=limit)
    app.add_middleware(RequestIdMiddleware)
    return app, seen


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_every_response_has_a_request_id_and_a_good_client_id_is_kept() -> None:
    app, _ = _app(100)
    async with await _client(app) as client:
        generated = await client.post("/v1/echo", content=b"{}")
        kept = await client.post("/v1/echo", content=b"{}", headers={"x-request-id": "req-123_abc"})
        replaced = await client.post("/v1/echo", content=b"{}", headers={"x-request-id": "bad id;drop"})
        missing = await client.get("/nowhere")
    assert len(generated.headers["x-request-id"]) == 32
    assert kept.headers["x-request-id"] == "req-123_abc"
    assert replaced.headers["x-request-id"] != "bad id;drop"
    assert missing.status_code == 404 and missing.headers["x-request-id"]


async def test_declared_oversized_body_gets_413_in_openai_shape_without_reaching_the_route() -> None:
    app, seen = _app(100)
    async with await _client(app) as client:
        response = await client.post("/v1/echo", content=b"x" * 101)
        admin = await client.post("/api/echo", content=b"x" * 101)
        fine = await client.post("/v1/echo", content=b"x" * 100)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert admin.status_code == 413 and "limit of 100 bytes" in admin.json()["detail"]
    assert fine.status_code == 200
    assert seen == [100]


async def test_chunked_oversized_body_is_cut_off_as_it_passes_the_limit() -> None:
    app, seen = _app(100)

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"y" * 30

    async with await _client(app) as client:
        response = await client.post("/v1/echo", content=chunks())
    assert response.status_code == 413
    assert seen == []
