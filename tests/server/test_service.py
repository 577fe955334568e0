"""Server service on both databases: uniqueness, sync (add, update, gone, return), pull then sync."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import func, select

from tests.fakes import FakeModel, FakeOllama
from tests.server.conftest import CONTEXT, LLAMA, QWEN
from unillm.audit.models import AuditLog
from unillm.errors import Conflict
from unillm.runtime import Runtime
from unillm.server import service as server_service
from unillm.server.schemas import ModelServerCreate, ModelServerRead


async def _add(runtime: Runtime, fake: FakeOllama, name: str = "gpu1") -> ModelServerRead:
    async with runtime.sessions() as session, session.begin():
        return await server_service.create(session=session, context=CONTEXT, data=ModelServerCreate(
            name=name, type="ollama", host=fake.host, port=fake.port))


async def test_duplicates_are_conflicts(runtime: Runtime, ollama: FakeOllama) -> None:
    await _add(runtime, ollama)
    with pytest.raises(Conflict, match="named 'gpu1' already exists"):
        await _add(runtime, ollama)
    with pytest.raises(Conflict, match="already registered as model server 'gpu1'"):
        await _add(runtime, ollama, name="gpu2")
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditLog)) == 1


async def test_sync_adds_updates_marks_gone_and_revives(runtime: Runtime, http: aiohttp.ClientSession,
                                                        ollama: FakeOllama) -> None:
    server = await _add(runtime, ollama)

    async def sync() -> tuple[list[str], list[str], list[str], list[str]]:
        async with runtime.sessions() as session, session.begin():
            s = await server_service.sync(session=session, context=CONTEXT, server_id=server.id, http=http)
        return s.added, s.updated, s.gone, s.returned

    assert await sync() == (["llama3.1:8b"], [], [], [])
    ollama.add_model(FakeModel(name=LLAMA.name, size_bytes=5, digest="sha256:" + "9" * 64,
                               context_length=LLAMA.context_length))
    assert await sync() == ([], ["llama3.1:8b"], [], [])
    del ollama.models[LLAMA.name]
    assert await sync() == ([], [], ["llama3.1:8b"], [])
    async with runtime.sessions() as session:
        everything = await server_service.list_models(session=session, server_id=server.id, include_gone=True)
        present = await server_service.list_models(session=session, server_id=server.id)
    assert [(m.status, m.gone_at is not None, m.size_bytes) for m in everything] == [("gone", True, 5)]
    assert present == []
    ollama.add_model(LLAMA)
    assert await sync() == ([], [], [], ["llama3.1:8b"])
    async with runtime.sessions() as session:
        [model] = await server_service.list_models(session=session, server_id=server.id)
    assert (model.status, model.gone_at, model.size_bytes, model.model_id) == (
        "present", None, LLAMA.size_bytes, "ollama/llama3.1:8b")


async def test_pull_then_sync_finds_the_new_model(runtime: Runtime, http: aiohttp.ClientSession,
                                                  ollama: FakeOllama) -> None:
    server = await _add(runtime, ollama)
    async with runtime.sessions() as session:
        progress = await server_service.start_pull(session=session, server_id=server.id, model=QWEN.name,
                                                   http=http)
    lines = [line async for line in server_service.pull_lines(runtime=runtime, context=CONTEXT,
                                                              server_id=server.id, model=QWEN.name,
                                                              progress=progress)]
    assert b'"success"' in lines[-2]
    assert b'"synced"' in lines[-1] and b"qwen2.5:0.5b" in lines[-1]
    async with runtime.sessions() as session:
        names = [m.model_name for m in await server_service.list_models(session=session, server_id=server.id)]
        actions = list(await session.scalars(select(AuditLog.action_type).order_by(AuditLog.id)))
    assert names == ["llama3.1:8b", "qwen2.5:0.5b"]
    assert actions == ["server_added", "model_pulled"]
