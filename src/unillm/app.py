"""The application factory: `create_app(settings)` builds the FastAPI app, its lifespan and routers.

Errors: services raise `unillm.errors`; the handlers here render them as `{"detail": ...}` on the
admin API and as OpenAI's error envelope under `/v1/`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from unillm import __version__
from unillm.config import Settings, get_settings
from unillm.errors import QuotaExceeded, UnillmError, UpstreamError
from unillm.middleware import AdminChangeRefreshMiddleware, BodyLimitMiddleware, RequestIdMiddleware
from unillm.runtime import Runtime
from unillm.service_routes import router as service_router

if TYPE_CHECKING:
    from unillm.gateway.fast_path import GatewayFastPath

logger = logging.getLogger("unillm")

StartHook = Callable[[Runtime], Awaitable[None]]


def _start_hooks() -> list[StartHook]:
    """Each domain's start-up, in order; each registers what it owns in `runtime.components`."""
    from unillm import metrics
    from unillm.access import quota
    from unillm.auth import snapshot as auth_snapshot
    from unillm.gateway import state as gateway_state
    from unillm.server import health as server_health
    from unillm.usage import writer as usage_writer

    return [auth_snapshot.start, metrics.start, quota.start, usage_writer.start, server_health.start,
            gateway_state.start]


def _routers() -> list[APIRouter]:
    """Every domain's router; one line each (imports are local so `create_app` stays cheap to import)."""
    from unillm.gateway.router import router as gateway_router

    # The gateway first: routes are matched in order, and /v1/* is the hot path.
    routers: list[APIRouter] = [gateway_router, service_router]
    from unillm import metrics
    from unillm.access import rules_router
    from unillm.auth import router as auth_router
    from unillm.provider import router as provider_router

    routers += [auth_router.router, metrics.router, provider_router.router, rules_router.router]
    from unillm.audit.router import router as audit_router

    routers += [audit_router]
    from unillm.deployment.router import router as deployment_router
    from unillm.server.router import router as server_router

    routers += [server_router, deployment_router]
    from unillm.access.router import router as access_check_router

    routers += [access_check_router]
    from unillm.usage.router import router as usage_router

    routers += [usage_router]
    return routers


def _is_gateway_path(path: str) -> bool:
    return path.startswith("/v1/")


def openai_error_body(message: str, error_type: str, code: str,
                      param: str | None = None) -> dict[str, object]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def _error_response(request: Request, status: int, message: str, *, error_type: str, code: str,
                    param: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    if _is_gateway_path(request.url.path):
        body: dict[str, object] = openai_error_body(message, error_type, code, param)
    else:
        body = {"detail": message}
    return JSONResponse(body, status_code=status, headers=headers)


async def _handle_unillm_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UnillmError)
    headers: dict[str, str] = {}
    if isinstance(exc, QuotaExceeded):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if isinstance(exc, UpstreamError) and exc.retry_after:
        headers["Retry-After"] = exc.retry_after
    return _error_response(request, exc.status_code, exc.message, error_type=exc.error_type,
                           code=exc.code, param=exc.param, headers=headers or None)


async def _handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if _is_gateway_path(request.url.path):
        first = errors[0] if errors else {}
        location = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"{location}: {first.get('msg', 'invalid request')}" if location else "invalid request"
        return JSONResponse(openai_error_body(message, "invalid_request_error", "invalid_request_error",
                                              location or None), status_code=400)
    detail = [{k: v for k, v in error.items() if k in {"loc", "msg", "type"}} for error in errors]
    return JSONResponse({"detail": detail}, status_code=422)


async def _handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request_error")
    return _error_response(request, exc.status_code, str(exc.detail), error_type="invalid_request_error",
                           code=code, headers=dict(exc.headers or {}) or None)


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error_response(request, 500, "internal error; see the server log",
                           error_type="api_error", code="internal_error")


class UnillmApp(FastAPI):
    """FastAPI, with the gateway's POST routes served first, before the framework's own layers
    (gateway/fast_path.py says why)."""

    gateway_fast_path: GatewayFastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.gateway_fast_path is not None and self.gateway_fast_path.handles(scope):
            scope["app"] = self
            await self.gateway_fast_path(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.create(settings)
        app.state.runtime = runtime
        try:
            for hook in _start_hooks():
                await hook(runtime)
            yield
        finally:
            await runtime.close()

    app = UnillmApp(
        title="unillm",
        version=__version__,
        description="Unified LLM Management: providers, model servers, access control, usage, audit, "
        "and an OpenAI-compatible gateway.",
        lifespan=lifespan,
        # unillm exports Prometheus metrics itself; FastAPI's OpenTelemetry hooks would otherwise
        # look up the global providers on every request (measured: ~7% of the gateway's CPU).
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.add_exception_handler(UnillmError, _handle_unillm_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(Exception, _handle_unexpected)

    from unillm.gateway.fast_path import GatewayFastPath

    app.gateway_fast_path = GatewayFastPath(render_error=_handle_unillm_error,
                                            render_unexpected=_handle_unexpected,
                                            max_body_bytes=settings.max_request_body_bytes)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_request_body_bytes)
    app.add_middleware(AdminChangeRefreshMiddleware)
    app.add_middleware(RequestIdMiddleware)
    for router in _routers():
        app.include_router(router)
    return app
