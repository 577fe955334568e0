"""Model servers: CRUD, on-demand health checks, model sync, pull and delete. Callers own the
transaction (routers and the CLI wrap each mutating call in `session.begin()`), so a change, its audit
row and the config-version bump commit or roll back together. Network calls go through the adapters,
which bound every call with a timeout."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.audit import service as audit_service
from unillm.audit.schemas import AuditContext
from unillm.db.config_version import bump_config_version
from unillm.db.types import utcnow
from unillm.errors import BadRequest, Conflict, NotFound, UpstreamError
from unillm.pagination import fetch_offset_page, parse_offset_cursor
from unillm.runtime import Runtime
from unillm.server.adapters import HealthResult, ServerAdapter, adapter_for
from unillm.server.models import InstalledModel, ModelServer
from unillm.server.schemas import (
    HealthRead,
    InstalledModelRead,
    ModelServerCreate,
    ModelServerPage,
    ModelServerRead,
    ModelServerUpdate,
    SyncSummary,
)
from unillm.server.sync import apply_sync

RESOURCE = "server"
MAX_PAGE = 500


class _OwnedHttp:
    """A client session this domain created because the app had none in `components["http"]`."""

    def __init__(self) -> None:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50))

    async def aclose(self) -> None:
        await self.session.close()


def http_client(runtime: Runtime) -> aiohttp.ClientSession:
    """The app's pooled client when it has one, else one owned by the runtime (CLI, tests)."""
    shared = runtime.components.get("http")
    if isinstance(shared, aiohttp.ClientSession):
        return shared
    owned = runtime.components.get("server_http")
    if not isinstance(owned, _OwnedHttp):
        owned = _OwnedHttp()
        runtime.components["server_http"] = owned
    return owned.session


def adapter(server: ModelServer, http: aiohttp.ClientSession) -> ServerAdapter:
    """The server's adapter; `metadata.timeout_seconds` overrides the per-call timeout (a slow
    remote box may need more, a test less)."""
    raw = (server.metadata_ or {}).get("timeout_seconds")
    timeout = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) and raw > 0 else None
    if timeout is None:
        return adapter_for(server.type, http, server.host, server.port)
    return adapter_for(server.type, http, server.host, server.port, timeout=timeout)


def base_url(server: ModelServer) -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"http://{host}:{server.port}"


def to_read(server: ModelServer) -> ModelServerRead:
    return ModelServerRead(
        id=server.id,
        name=server.name,
        type=server.type,
        location=server.location,
        host=server.host,
        port=server.port,
        base_url=base_url(server),
        gpu_id=server.gpu_id,
        auto_start=server.auto_start,
        enabled=server.enabled,
        health_status=server.health_status,
        last_health_check=server.last_health_check,
        health_latency_ms=server.health_latency_ms,
        health_error=server.health_error,
        created_at=server.created_at,
        updated_at=server.updated_at,
        metadata=dict(server.metadata_ or {}),
    )


def model_to_read(row: InstalledModel, server_type: str) -> InstalledModelRead:
    return InstalledModelRead(
        id=row.id,
        server_id=row.server_id,
        model_name=row.model_name,
        model_id=f"{server_type}/{row.model_name}",
        size_bytes=row.size_bytes,
        quantization=row.quantization,
        version=row.version,
        family=row.family,
        context_length=row.context_length,
        digest=row.digest,
        status=row.status,
        gone_at=row.gone_at,
        installed_at=row.installed_at,
        last_used=row.last_used,
    )


def audit_view(server: ModelServer) -> dict[str, Any]:
    return {
        "id": str(server.id),
        "name": server.name,
        "type": server.type,
        "location": server.location,
        "host": server.host,
        "port": server.port,
        "gpu_id": server.gpu_id,
        "auto_start": server.auto_start,
        "enabled": server.enabled,
        "metadata": dict(server.metadata_ or {}),
    }


# -- reads -----------------------------------------------------------------------------------------
async def list_(
    *,
    session: AsyncSession,
    limit: int = 100,
    cursor: str | None = None,
    type: str | None = None,
    enabled: bool | None = None,
) -> ModelServerPage:
    offset = parse_offset_cursor(cursor)
    limit = max(1, min(limit, MAX_PAGE))
    query = select(ModelServer).order_by(ModelServer.name, ModelServer.id)
    if type is not None:
        query = query.where(ModelServer.type == type)
    if enabled is not None:
        query = query.where(ModelServer.enabled == enabled)
    rows, next_cursor = await fetch_offset_page(session, query, offset=offset, limit=limit)
    return ModelServerPage(items=[to_read(s) for s in rows], next_cursor=next_cursor)


async def list_all(*, session: AsyncSession, enabled_only: bool = False) -> list[ModelServer]:
    query = select(ModelServer).order_by(ModelServer.name)
    if enabled_only:
        query = query.where(ModelServer.enabled.is_(True))
    return list(await session.scalars(query))


async def get_or_raise(*, session: AsyncSession, server_id: uuid.UUID) -> ModelServer:
    server = await session.get(ModelServer, server_id)
    if server is None:
        raise NotFound(f"no model server with id {server_id}")
    return server


async def resolve(*, session: AsyncSession, ref: str) -> ModelServer:
    """A server by name, or by id (what the CLI accepts)."""
    server = await session.scalar(select(ModelServer).where(ModelServer.name == ref))
    if server is None:
        try:
            server = await session.get(ModelServer, uuid.UUID(ref))
        except ValueError:
            server = None
    if server is None:
        raise NotFound(f"no model server named {ref!r}; `unillm servers list` shows them")
    return server


async def list_models(
    *, session: AsyncSession, server_id: uuid.UUID, include_gone: bool = False
) -> list[InstalledModelRead]:
    server = await get_or_raise(session=session, server_id=server_id)
    query = (
        select(InstalledModel)
        .where(InstalledModel.server_id == server_id)
        .order_by(InstalledModel.model_name)
    )
    if not include_gone:
        query = query.where(InstalledModel.status == "present")
    return [model_to_read(row, server.type) for row in await session.scalars(query)]


# -- CRUD ------------------------------------------------------------------------------------------
async def _ensure_unique(
    session: AsyncSession, *, name: str, host: str, port: int, exclude: uuid.UUID | None = None
) -> None:
    query = select(ModelServer).where(
        (ModelServer.name == name)
        | ((func.lower(ModelServer.host) == host.lower()) & (ModelServer.port == port))
    )
    for other in await session.scalars(query):
        if other.id == exclude:
            continue
        if other.name == name:
            raise Conflict(f"a model server named {name!r} already exists; pick another name")
        raise Conflict(
            f"{host}:{port} is already registered as model server {other.name!r}; "
            "edit that one instead of adding it twice"
        )


async def create(*, session: AsyncSession, context: AuditContext, data: ModelServerCreate) -> ModelServerRead:
    await _ensure_unique(session, name=data.name, host=data.host, port=data.port)
    server = ModelServer(
        name=data.name,
        type=data.type,
        host=data.host,
        port=data.port,
        location=data.location,
        gpu_id=data.gpu_id,
        auto_start=data.auto_start,
        enabled=data.enabled,
        metadata_=dict(data.metadata),
        health_status="unknown",
    )
    session.add(server)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create won the race past _ensure_unique
        raise Conflict(
            f"a model server named {data.name!r} or at {data.host}:{data.port} already exists"
        ) from exc
    await session.refresh(server)
    await audit_service.record(
        session=session,
        context=context,
        action_type="server_added",
        resource_type=RESOURCE,
        resource_id=str(server.id),
        before=None,
        after=audit_view(server),
    )
    return to_read(server)


async def update(
    *, session: AsyncSession, context: AuditContext, server_id: uuid.UUID, data: ModelServerUpdate
) -> ModelServerRead:
    server = await get_or_raise(session=session, server_id=server_id)
    before = audit_view(server)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "host", "port", "location", "auto_start", "enabled"):
        if key in changes and changes[key] is None:
            raise BadRequest(f"{key} cannot be null", param=key)
    await _ensure_unique(
        session,
        name=changes.get("name", server.name),
        host=changes.get("host", server.host),
        port=changes.get("port", server.port),
        exclude=server.id,
    )
    for key, value in changes.items():
        setattr(
            server,
            "metadata_" if key == "metadata" else key,
            value if key != "metadata" else dict(value or {}),
        )
    if {"host", "port"} & changes.keys():
        server.health_status = "unknown"  # a new address has not been checked yet
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("another model server already has that name or address") from exc
    await session.refresh(server)
    await audit_service.record(
        session=session,
        context=context,
        action_type="server_updated",
        resource_type=RESOURCE,
        resource_id=str(server.id),
        before=before,
        after=audit_view(server),
    )
    return to_read(server)


async def delete(*, session: AsyncSession, context: AuditContext, server_id: uuid.UUID) -> None:
    server = await get_or_raise(session=session, server_id=server_id)
    before = audit_view(server)
    await session.delete(server)
    await session.flush()
    await audit_service.record(
        session=session,
        context=context,
        action_type="server_removed",
        resource_type=RESOURCE,
        resource_id=str(server_id),
        before=before,
        after=None,
    )


# -- health ----------------------------------------------------------------------------------------
async def record_health(
    *, session: AsyncSession, server: ModelServer, result: HealthResult, status: str | None = None
) -> HealthRead:
    """Store a probe; `status` is what to publish (the background checker passes its hysteresis
    decision); a changed status bumps the config version so gateways rebuild their routes."""
    published = status or result.status
    now = utcnow()
    if published != server.health_status:
        await bump_config_version(session=session)
    server.health_status = published
    server.last_health_check = now
    server.health_latency_ms = result.latency_ms
    server.health_error = result.detail[:1000] if result.detail else None
    await session.flush()
    return HealthRead(
        server_id=server.id,
        name=server.name,
        status=published,
        observed=result.status,
        latency_ms=result.latency_ms,
        error=server.health_error,
        checked_at=now,
    )


async def check_health(
    *, session: AsyncSession, server_id: uuid.UUID, http: aiohttp.ClientSession
) -> HealthRead:
    """An operator's on-demand check publishes what it sees at once (no hysteresis: they asked)."""
    server = await get_or_raise(session=session, server_id=server_id)
    result = await adapter(server, http).health()
    return await record_health(session=session, server=server, result=result)


async def check_all(*, session: AsyncSession, http: aiohttp.ClientSession) -> list[HealthRead]:
    servers = await list_all(session=session, enabled_only=True)
    results = await asyncio.gather(*(adapter(s, http).health() for s in servers))
    return [
        await record_health(session=session, server=s, result=r)
        for s, r in zip(servers, results, strict=True)
    ]


# -- models ----------------------------------------------------------------------------------------
async def _apply(session: AsyncSession, server: ModelServer, http: aiohttp.ClientSession) -> SyncSummary:
    discovered = await adapter(server, http).list_models()
    plan = await apply_sync(session=session, server=server, discovered=discovered)
    if plan.added or plan.updated or plan.gone or plan.returned:
        await bump_config_version(session=session)
    return SyncSummary(
        server_id=server.id,
        added=[m.name for m in plan.added],
        updated=[row.model_name for row, _ in plan.updated],
        gone=[row.model_name for row in plan.gone],
        returned=[row.model_name for row, _ in plan.returned],
        unchanged=plan.unchanged,
    )


async def sync(
    *, session: AsyncSession, context: AuditContext, server_id: uuid.UUID, http: aiohttp.ClientSession
) -> SyncSummary:
    server = await get_or_raise(session=session, server_id=server_id)
    summary = await _apply(session, server, http)
    await audit_service.record(
        session=session,
        context=context,
        action_type="server_synced",
        resource_type=RESOURCE,
        resource_id=str(server.id),
        before=None,
        after=summary.model_dump(mode="json"),
    )
    return summary


async def delete_model(
    *,
    session: AsyncSession,
    context: AuditContext,
    server_id: uuid.UUID,
    model_name: str,
    http: aiohttp.ClientSession,
) -> None:
    server = await get_or_raise(session=session, server_id=server_id)
    row = await session.scalar(
        select(InstalledModel).where(
            InstalledModel.server_id == server_id, InstalledModel.model_name == model_name
        )
    )
    await adapter(server, http).delete(model_name)
    before = model_to_read(row, server.type).model_dump(mode="json") if row is not None else None
    if row is not None:
        row.status = "gone"
        row.gone_at = utcnow()
        await session.flush()
    await audit_service.record(
        session=session,
        context=context,
        action_type="model_deleted",
        resource_type="model",
        resource_id=f"{server.type}/{model_name}",
        before=before,
        after={"server_id": str(server.id), "model_name": model_name, "status": "gone"},
    )


async def start_pull(
    *, session: AsyncSession, server_id: uuid.UUID, model: str, http: aiohttp.ClientSession
) -> AsyncIterator[Any]:
    """Check the server and open its pull stream; raises before streaming (404, not supported)."""
    server = await get_or_raise(session=session, server_id=server_id)
    return adapter(server, http).pull(model)


async def pull_lines(
    *, runtime: Runtime, context: AuditContext, server_id: uuid.UUID, model: str, progress: AsyncIterator[Any]
) -> AsyncIterator[bytes]:
    """NDJSON: each progress line, then (after success) a sync that records the new model with one
    audit row. An upstream failure mid-stream becomes a final `{"error": ...}` line."""
    try:
        async for step in progress:
            yield _line(
                {
                    "status": step.status,
                    "total": step.total,
                    "completed": step.completed,
                    "digest": step.digest,
                }
            )
        async with runtime.sessions() as session, session.begin():
            server = await get_or_raise(session=session, server_id=server_id)
            summary = await _apply(session, server, http_client(runtime))
            await audit_service.record(
                session=session,
                context=context,
                action_type="model_pulled",
                resource_type="model",
                resource_id=f"{server.type}/{model}",
                before=None,
                after={
                    "server_id": str(server_id),
                    "model_name": model,
                    "sync": summary.model_dump(mode="json"),
                },
            )
        yield _line({"status": "synced", "sync": summary.model_dump(mode="json")})
    except UpstreamError as exc:
        yield _line({"error": exc.message})


def _line(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode() + b"\n"
