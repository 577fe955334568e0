"""The OpenAI-compatible routes: thin wrappers around admission, dispatch, relay and metering.

Raw `Request` bodies (no Pydantic parsing on the hot path); errors are `unillm.errors`, rendered as
OpenAI's envelope by app.py because the paths start with /v1/.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from unillm.deps import bearer_token
from unillm.errors import UnillmError
from unillm.gateway import dispatch, metering
from unillm.gateway.admission import Admission, admit, refund
from unillm.gateway.models_list import list_models_for
from unillm.gateway.relay import Relay
from unillm.gateway.request import completion_chars, message_text_chars, parse_chat, parse_embeddings
from unillm.gateway.sse_response import RelayResponse
from unillm.gateway.state import GatewayState
from unillm.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["gateway"])

JSON = "application/json"


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _fail(runtime: Runtime, admission: Admission, exc: UnillmError, prompt_chars: int) -> None:
    await refund(runtime, admission)
    metering.record(runtime, admission, None, metering.Outcome(
        status="error", status_code=exc.status_code, prompt_chars=prompt_chars,
        error_message=exc.message, error_code=exc.code))


@router.post("/chat/completions", summary="Chat completions (JSON or server-sent events)")
async def chat_completions(request: Request) -> Response:
    runtime = _runtime(request)
    token = bearer_token(request)
    chat = parse_chat(await request.body())
    admission = await admit(runtime, request_id=request.state.request_id, token=token,
                            headers=request.headers, model=chat.model, messages=chat.messages,
                            max_tokens=chat.max_tokens)
    state: GatewayState = runtime.components["gateway"]
    prompt_chars = message_text_chars(chat.messages)
    headers = admission.response_headers()
    try:
        if chat.stream:
            start = await dispatch.open_stream(state, admission, chat.body)
        else:
            target, response = await dispatch.complete(state, admission, chat.body)
    except UnillmError as exc:
        await _fail(runtime, admission, exc, prompt_chars)
        raise
    if chat.stream:
        return RelayResponse(Relay(runtime, admission, start, prompt_chars), headers)
    metering.record(runtime, admission, target, metering.Outcome(
        status="success", status_code=response.status, usage=response.usage, prompt_chars=prompt_chars,
        completion_chars=completion_chars(response.body) if response.usage is None else 0,
        first_byte_at=time.perf_counter()))
    return Response(content=response.body, status_code=response.status, media_type=JSON, headers=headers)


@router.post("/embeddings", summary="Embeddings")
async def embeddings(request: Request) -> Response:
    runtime = _runtime(request)
    token = bearer_token(request)
    parsed = parse_embeddings(await request.body())
    admission = await admit(runtime, request_id=request.state.request_id, token=token,
                            headers=request.headers, model=parsed.model, messages=None, max_tokens=None)
    state: GatewayState = runtime.components["gateway"]
    try:
        target, response = await dispatch.complete(state, admission, parsed.body, operation="embeddings")
    except UnillmError as exc:
        await _fail(runtime, admission, exc, len(parsed.input_text))
        raise
    metering.record(runtime, admission, target, metering.Outcome(
        status="success", status_code=response.status, usage=response.usage,
        prompt_chars=len(parsed.input_text), first_byte_at=time.perf_counter()))
    return Response(content=response.body, status_code=response.status, media_type=JSON,
                    headers=admission.response_headers())


@router.get("/models", summary="The models the caller may use")
async def models(request: Request) -> Response:
    runtime = _runtime(request)
    from unillm.auth import service as auth_service

    principal = await auth_service.authenticate(runtime, bearer_token(request),
                                                acting_for=request.headers.get("x-unillm-user"))
    return Response(content=list_models_for(runtime, principal), media_type=JSON)
