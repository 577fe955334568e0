"""FastAPI dependencies shared by the routers: the runtime, a session, the principal and role checks.

`CurrentPrincipal` comes from `auth.service.authenticate`, which reads the in-memory key snapshot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.audit.schemas import AuditContext
from unillm.auth.principal import Principal
from unillm.errors import PermissionDenied, Unauthenticated
from unillm.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing API key: send 'Authorization: Bearer <key>'")
    return token.strip()


async def get_principal(request: Request, runtime: RuntimeDep) -> Principal:
    from unillm.auth import service as auth_service

    return await auth_service.authenticate(runtime, bearer_token(request))


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_viewer(principal: CurrentPrincipal) -> Principal:
    if not principal.can_read_admin:
        raise PermissionDenied("this key may not use the admin API; it needs role admin or viewer")
    return principal


def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.can_write_admin:
        raise PermissionDenied("this key may read but not change anything; changes need role admin")
    return principal


ViewerPrincipal = Annotated[Principal, Depends(require_viewer)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]


def audit_context(request: Request, principal: AdminPrincipal) -> AuditContext:
    client = request.client.host if request.client else None
    return AuditContext(actor=principal.actor, ip_address=client,
                        user_agent=request.headers.get("user-agent"))


AuditContextDep = Annotated[AuditContext, Depends(audit_context)]
