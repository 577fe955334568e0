"""The gateway's POST routes are served before FastAPI's stack (gateway/fast_path.py): what those
layers did for them must still hold, on a real uvicorn: the request id, the body limit, errors in
the OpenAI envelope, and every other route still going through FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.gateway.conftest import Gateway
from unillm.config import Settings
from unillm.gateway import router as gateway_router

HELLO = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
LIMIT = 4096


@pytest.fixture
def gateway_settings(gateway_settings: Settings) -> Settings:
    """A small body limit, so an oversized body fits in the socket buffers and the client reads the
    413 (with a large one the server closes while the client is still sending)."""
    return gateway_settings.model_copy(update={"max_request_body_bytes": LIMIT})


def _auth(gateway: Gateway) -> dict[str, str]:
    return {"Authorization": f"Bearer {gateway.keys['professional']}"}


async def test_a_well_formed_client_request_id_is_kept_and_used_as_the_usage_row_id(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        kept = await client.post("/v1/chat/completions", json=HELLO,
                                 headers={**_auth(gateway), "x-request-id": "client-req_1.a"})
        replaced = await client.post("/v1/chat/completions", json=HELLO,
                                     headers={**_auth(gateway), "x-request-id": "bad id;x"})
    assert kept.status_code == replaced.status_code == 200
    assert kept.headers["x-request-id"] == "client-req_1.a"
    generated = replaced.headers["x-request-id"]
    assert generated != "bad id;x" and len(generated) == 32 and int(generated, 16) >= 0
    rows = await gateway.rows_eventually(2)
    assert {row.request_id for row in rows} == {"client-req_1.a", generated}


async def test_errors_carry_the_request_id_and_the_openai_envelope(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        unauthenticated = await client.post("/v1/chat/completions", json=HELLO)
        unknown_model = await client.post("/v1/chat/completions", json={**HELLO, "model": "nope"},
                                          headers=_auth(gateway))
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["type"] == "authentication_error"
    assert unknown_model.status_code == 404 and unknown_model.json()["error"]["param"] == "model"
    assert unauthenticated.headers["x-request-id"] and unknown_model.headers["x-request-id"]


async def test_an_oversized_body_is_refused_before_it_is_read(gateway: Gateway) -> None:
    big = b'{"model": "openai/gpt-4o", "messages": [], "pad": "' + b"x" * LIMIT + b'"}'

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1024):
            yield big[start:start + 1024]

    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
        declared = await client.post("/v1/chat/completions", content=big,
                                     headers={**_auth(gateway), "content-type": "application/json"})
        streamed = await client.post("/v1/chat/completions", content=chunked(),
                                     headers={**_auth(gateway), "content-type": "application/json"})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "request_too_large"
        assert response.headers["x-request-id"]
    assert gateway.openai_fake.requests == []


async def test_an_unexpected_fault_is_a_500_in_the_openai_envelope(gateway: Gateway,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug, with a secret-looking detail sk-should-not-leak")

    monkeypatch.setattr(gateway_router, "admit", broken)
    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        response = await client.post("/v1/chat/completions", json=HELLO, headers=_auth(gateway))
    assert response.status_code == 500
    assert response.json()["error"] == {"message": "internal error; see the server log", "type": "api_error",
                                        "param": None, "code": "internal_error"}
    assert "sk-should-not-leak" not in response.text
    assert response.headers["x-request-id"]


async def test_other_routes_still_go_through_fastapi(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as client:
        wrong_method = await client.get("/v1/chat/completions", headers=_auth(gateway))
        models = await client.get("/v1/models", headers=_auth(gateway))
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert models.status_code == 200 and models.headers["x-request-id"]
