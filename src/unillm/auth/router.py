"""`/api/v1/keys` and `/api/v1/users`: viewers read, admins change. Each change is one transaction,
after which this process's snapshot is rebuilt (`notify_changed`) before the response is sent, so a
revoked key or a disabled user is refused from the very next request."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from unillm.auth import service as auth_service
from unillm.auth import snapshot
from unillm.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyRead,
    UserCreate,
    UserPage,
    UserRead,
    UserUpdate,
)
from unillm.deps import AuditContextDep, RuntimeDep, SessionDep, ViewerPrincipal

keys_router = APIRouter(prefix="/api/v1/keys", tags=["api keys"])
users_router = APIRouter(prefix="/api/v1/users", tags=["users"])
router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=auth_service.MAX_PAGE)]
Cursor = Annotated[str | None, Query(max_length=20)]


@keys_router.get("", summary="List API keys (display prefix only; never the secret)")
async def list_keys(session: SessionDep, _: ViewerPrincipal, user_id: str | None = None,
                    include_revoked: bool = False, limit: Limit = 100, cursor: Cursor = None) -> ApiKeyPage:
    return await auth_service.list_keys(session=session, user_id=user_id, include_revoked=include_revoked,
                                        limit=limit, cursor=cursor)


@keys_router.post("", status_code=201, summary="Create a key; the secret is in `key`, shown only here")
async def create_key(body: ApiKeyCreate, session: SessionDep, runtime: RuntimeDep,
                     context: AuditContextDep) -> ApiKeyCreated:
    async with session.begin():
        read, secret = await auth_service.create_key(
            session=session, context=context, user_id=body.user_id, tier_code=body.tier_code,
            role=body.role, name=body.name, expires_days=body.expires_days, kind=body.kind,
            agent_id=body.agent_id)
    await snapshot.notify_changed(runtime)
    return ApiKeyCreated(**read.model_dump(), key=secret)


@keys_router.get("/{key_id}", summary="One API key")
async def get_key(key_id: uuid.UUID, session: SessionDep, _: ViewerPrincipal) -> ApiKeyRead:
    return auth_service.key_to_read(await auth_service.get_key_or_raise(session=session, key_id=key_id))


@keys_router.delete("/{key_id}", summary="Revoke a key (effective at once in this process)")
async def revoke_key(key_id: uuid.UUID, session: SessionDep, runtime: RuntimeDep,
                     context: AuditContextDep) -> ApiKeyRead:
    async with session.begin():
        read = await auth_service.revoke_key(session=session, context=context, key_id=key_id)
    await snapshot.notify_changed(runtime)
    return read


@users_router.get("", summary="List users")
async def list_users(session: SessionDep, _: ViewerPrincipal, tier_code: str | None = None,
                     role: str | None = None, limit: Limit = 100, cursor: Cursor = None) -> UserPage:
    return await auth_service.list_users(session=session, limit=limit, cursor=cursor, tier_code=tier_code,
                                         role=role)


@users_router.post("", status_code=201, summary="Register a user (e.g. one a service key acts for)")
async def create_user(body: UserCreate, session: SessionDep, runtime: RuntimeDep,
                      context: AuditContextDep) -> UserRead:
    async with session.begin():
        read = await auth_service.create_user(session=session, context=context, user_id=body.id,
                                              tier_code=body.tier_code, role=body.role,
                                              disabled=body.disabled)
    await snapshot.notify_changed(runtime)
    return read


@users_router.get("/{user_id}", summary="One user")
async def get_user(user_id: str, session: SessionDep, _: ViewerPrincipal) -> UserRead:
    return auth_service.user_to_read(await auth_service.get_user_or_raise(session=session, user_id=user_id))


@users_router.patch("/{user_id}", summary="Change a user's tier, role or disabled flag")
async def update_user(user_id: str, body: UserUpdate, session: SessionDep, runtime: RuntimeDep,
                      context: AuditContextDep) -> UserRead:
    async with session.begin():
        read = await auth_service.set_user(session=session, context=context, user_id=user_id,
                                           tier_code=body.tier_code, role=body.role, disabled=body.disabled)
    await snapshot.notify_changed(runtime)
    return read


router.include_router(keys_router)
router.include_router(users_router)
