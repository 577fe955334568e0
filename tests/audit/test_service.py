"""record(), query() and verify() on both backends, including concurrent writers and tampering."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.audit.conftest import CONTEXT, RecordMany, Tamper
from unillm.audit import service as audit_service
from unillm.audit.chain import VerifyResult
from unillm.audit.schemas import AuditContext
from unillm.db.types import utcnow
from unillm.errors import BadRequest
from unillm.runtime import Runtime


async def _verify(runtime: Runtime) -> VerifyResult:
    async with runtime.sessions() as session:
        return await audit_service.verify(session=session)


async def _ids(runtime: Runtime) -> list[int]:
    async with runtime.sessions() as session:
        return list((await session.execute(text("SELECT id FROM audit_log ORDER BY id"))).scalars())


async def test_recorded_rows_form_a_valid_chain_and_mask_secrets(runtime: Runtime,
                                                                 record_many: RecordMany) -> None:
    await record_many(3)
    result = await _verify(runtime)
    assert (result.ok, result.rows_checked, result.first_bad_id) == (True, 3, None)
    async with runtime.sessions() as session:
        items, next_cursor = await audit_service.query(session=session)
    assert next_cursor is None
    assert [item.resource_id for item in items] == ["p2", "p1", "p0"]
    newest = items[0]
    assert newest.details == {"before": None, "after": {"name": "p2", "api_key": "***"}}
    assert (newest.user_id, newest.ip_address, newest.user_agent) == ("admin", "127.0.0.1", "pytest")
    assert newest.prev_hash == items[1].row_hash and items[2].prev_hash is None


async def test_nested_secrets_are_masked_by_key_name(runtime: Runtime) -> None:
    async with runtime.sessions.begin() as session:
        await audit_service.record(
            session=session, context=CONTEXT, action_type="provider_updated", resource_type="provider",
            resource_id="x", before={"headers": {"Authorization": "Bearer abc"}, "token": None},
            after={"metadata": [{"client_secret": "s", "note": "ok"}], "db_password": "pw"},
            extra={"secret_key": "k"},
        )
    async with runtime.sessions() as session:
        (item,), _ = await audit_service.query(session=session)
    assert item.details == {
        "before": {"headers": {"Authorization": "***"}, "token": None},
        "after": {"metadata": [{"client_secret": "***", "note": "ok"}], "db_password": "***"},
        "secret_key": "***",
    }


async def test_concurrent_writers_keep_the_chain_valid(runtime: Runtime) -> None:
    async def _one(number: int) -> None:
        async with runtime.sessions.begin() as session:
            await audit_service.record(session=session, context=CONTEXT, action_type="key_created",
                                       resource_type="api_key", resource_id=str(number))

    await asyncio.gather(*(_one(number) for number in range(20)))
    result = await _verify(runtime)
    assert result.ok, result.reason
    assert result.rows_checked == 20


async def test_query_filters_and_paginates_newest_first(runtime: Runtime, record_many: RecordMany) -> None:
    await record_many(5)
    async with runtime.sessions.begin() as session:
        await audit_service.record(session=session, context=CONTEXT, action_type="server_added",
                                   resource_type="server", resource_id="s1")
    async with runtime.sessions() as session:
        first, cursor = await audit_service.query(session=session, resource_type="provider", limit=2)
        second, cursor2 = await audit_service.query(session=session, resource_type="provider", limit=2,
                                                    cursor=cursor)
        third, cursor3 = await audit_service.query(session=session, resource_type="provider", limit=2,
                                                   cursor=cursor2)
        servers, _ = await audit_service.query(session=session, action_type="server_added")
        by_id, _ = await audit_service.query(session=session, resource_type="provider", resource_id="p3")
        nobody, _ = await audit_service.query(session=session, actor="someone-else")
        recent, _ = await audit_service.query(session=session, since=utcnow() - timedelta(minutes=5),
                                              until=utcnow() + timedelta(minutes=5))
        future, _ = await audit_service.query(session=session, since=utcnow() + timedelta(minutes=5))
        with pytest.raises(BadRequest):
            await audit_service.query(session=session, cursor="abc")
        with pytest.raises(BadRequest):
            await audit_service.query(session=session, limit=0)
    assert [i.resource_id for i in first + second + third] == ["p4", "p3", "p2", "p1", "p0"]
    assert cursor is not None and cursor2 is not None and cursor3 is None
    assert [i.resource_id for i in servers] == ["s1"]
    assert [i.resource_id for i in by_id] == ["p3"]
    assert nobody == [] and future == []
    assert len(recent) == 6


async def test_update_and_delete_fail_loudly(runtime: Runtime, record_many: RecordMany) -> None:
    await record_many(2)
    for statement in ("UPDATE audit_log SET action_type = 'nothing'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with runtime.engine.begin() as connection:
                await connection.execute(text(statement))
    assert await _ids(runtime) == [1, 2]
    assert (await _verify(runtime)).ok


async def test_truncate_fails_on_postgresql(runtime: Runtime, backend: str, record_many: RecordMany) -> None:
    await record_many(1)
    statement = "TRUNCATE audit_log" if backend == "postgresql" else "DELETE FROM audit_log WHERE id = 1"
    with pytest.raises(DBAPIError, match="append-only"):
        async with runtime.engine.begin() as connection:
            await connection.execute(text(statement))
    assert await _ids(runtime) == [1]


async def test_plain_sql_insert_succeeds_and_is_chained_on_postgresql(
        runtime: Runtime, backend: str, record_many: RecordMany) -> None:
    await record_many(2)
    async with runtime.engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO audit_log (user_id, action_type, resource_type, resource_id) "
            "VALUES ('psql', 'manual_fix', 'provider', 'p9')"
        ))
    result = await _verify(runtime)
    if backend == "postgresql":
        assert (result.ok, result.rows_checked) == (True, 3)
        await record_many(1)
        assert (await _verify(runtime)).ok
    else:
        assert not result.ok
        assert result.first_bad_id == 3
        assert result.reason == "row 3 has no hash (inserted outside unillm on SQLite)"


async def test_verify_catches_an_edit_made_around_the_triggers(runtime: Runtime, record_many: RecordMany,
                                                               tamper: Tamper) -> None:
    await record_many(4)
    await tamper("UPDATE audit_log SET resource_id = 'forged' WHERE id = 2")
    result = await _verify(runtime)
    assert (result.ok, result.first_bad_id) == (False, 2)
    assert result.reason is not None and result.reason.startswith("row 2 was edited")


async def test_verify_catches_a_details_edit(runtime: Runtime, record_many: RecordMany, tamper: Tamper,
                                             backend: str) -> None:
    await record_many(3)
    forged = "'{\"after\": null, \"before\": null}'" + ("::jsonb" if backend == "postgresql" else "")
    await tamper(f"UPDATE audit_log SET details = {forged} WHERE id = 3")
    result = await _verify(runtime)
    assert (result.ok, result.first_bad_id) == (False, 3)


async def test_verify_catches_a_deletion_made_around_the_triggers(runtime: Runtime, record_many: RecordMany,
                                                                  tamper: Tamper) -> None:
    await record_many(4)
    await tamper("DELETE FROM audit_log WHERE id = 3")
    result = await _verify(runtime)
    assert (result.ok, result.first_bad_id) == (False, 4)
    assert result.reason is not None and result.reason.startswith("row before 4 was removed")


async def test_verify_catches_removal_of_the_first_row(runtime: Runtime, record_many: RecordMany,
                                                       tamper: Tamper) -> None:
    await record_many(2)
    await tamper("DELETE FROM audit_log WHERE id = 1")
    result = await _verify(runtime)
    assert (result.ok, result.first_bad_id) == (False, 2)


async def test_verify_reads_in_batches(runtime: Runtime, record_many: RecordMany,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_service, "VERIFY_BATCH", 2)
    await record_many(5)
    result = await _verify(runtime)
    assert (result.ok, result.rows_checked) == (True, 5)


async def test_empty_log_verifies(runtime: Runtime) -> None:
    result = await _verify(runtime)
    assert (result.ok, result.rows_checked) == (True, 0)


async def test_python_and_database_hashes_agree_on_unusual_text(runtime: Runtime) -> None:
    context = AuditContext(actor="ädmin|1:x", ip_address="::1", user_agent="agent/∞ 'quoted' \"double\"")
    async with runtime.sessions.begin() as session:
        await audit_service.record(session=session, context=context, action_type="provider_added",
                                   resource_type="provider", resource_id=None,
                                   after={"name": "日本語\n\ttab\\slash", "n": 1.5, "ok": True,
                                          "z": [1, None]})
    result = await _verify(runtime)
    assert (result.ok, result.rows_checked) == (True, 1), result.reason


async def test_every_recorded_change_bumps_the_config_version(runtime: Runtime) -> None:
    """Running processes learn of an audited change (the seed once forgot to publish one)."""
    from unillm.db.config_version import read_config_version

    async with runtime.sessions() as session:
        before = await read_config_version(session=session)
    async with runtime.sessions.begin() as session:
        await audit_service.record(session=session, context=AuditContext(actor="t"), action_type="x_added",
                                   resource_type="x", resource_id="1")
    async with runtime.sessions() as session:
        assert await read_config_version(session=session) == before + 1
