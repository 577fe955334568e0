"""Users and keys against both databases, authenticated through a started snapshot store whose
refresh loop is effectively off (3600 s): everything a test sees, it sees through notify/rebuild."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, text

from tests.auth.conftest import CONTEXT, audit_rows, create_key
from unillm.audit.models import AuditLog
from unillm.auth import keys, snapshot
from unillm.auth import service as auth_service
from unillm.auth.models import ApiKey, User
from unillm.db.config_version import read_config_version
from unillm.errors import BadRequest, ConfigError, Conflict, NotFound, PermissionDenied, Unauthenticated
from unillm.runtime import Runtime


async def test_create_key_creates_the_user_and_authenticates(store_runtime: Runtime) -> None:
    async with store_runtime.sessions() as session:
        version = await read_config_version(session=session)
    key_id, secret = await create_key(store_runtime, "alice", tier_code="professional", name="laptop")
    principal = await auth_service.authenticate(store_runtime, secret)
    assert (principal.user_id, principal.tier_code, principal.role) == ("alice", "professional", "user")
    assert str(principal.api_key_id) == key_id and principal.key_kind == "user" and principal.agent_id is None
    async with store_runtime.sessions() as session:
        user = await auth_service.get_user_or_raise(session=session, user_id="alice")
        stored = await session.get(ApiKey, uuid.UUID(key_id))
        assert await read_config_version(session=session) == version + 1
    assert user.tier_code == "professional"
    assert stored is not None and stored.key_hash == keys.hash_secret(secret)
    assert stored.prefix == secret[:12] and stored.created_by == "tester"
    rows = await audit_rows(store_runtime)
    assert [(r.action_type, r.resource_id) for r in rows] == [("api_key_created", key_id)]
    assert rows[0].details is not None and rows[0].details["after"]["user_created"] is True


async def test_list_and_revoke(store_runtime: Runtime) -> None:
    first, _ = await create_key(store_runtime, "alice")
    second, _ = await create_key(store_runtime, "bob", kind="service")
    async with store_runtime.sessions() as session:
        page = await auth_service.list_keys(session=session)
        assert {str(k.id) for k in page.items} == {first, second}
        bobs = await auth_service.list_keys(session=session, user_id="bob")
        assert [str(k.id) for k in bobs.items] == [second]
        one = await auth_service.list_keys(session=session, limit=1)
        assert len(one.items) == 1 and one.next_cursor == "1"
        rest = await auth_service.list_keys(session=session, limit=1, cursor=one.next_cursor)
        assert {str(one.items[0].id), str(rest.items[0].id)} == {first, second} and rest.next_cursor is None
        with pytest.raises(BadRequest):
            await auth_service.list_keys(session=session, cursor="x")
    async with store_runtime.sessions.begin() as session:
        revoked = await auth_service.revoke_key(session=session, context=CONTEXT, key_id=uuid.UUID(first))
    assert revoked.status == "revoked" and revoked.revoked_at is not None
    async with store_runtime.sessions.begin() as session:  # a second revoke changes nothing
        await auth_service.revoke_key(session=session, context=CONTEXT, key_id=uuid.UUID(first))
        with pytest.raises(NotFound):
            await auth_service.revoke_key(session=session, context=CONTEXT, key_id=uuid.uuid4())
    async with store_runtime.sessions() as session:
        assert [str(k.id) for k in (await auth_service.list_keys(session=session)).items] == [second]
        listed = await auth_service.list_keys(session=session, include_revoked=True)
        assert {str(k.id): k.status for k in listed.items} == {first: "revoked", second: "active"}
    assert [r.action_type for r in await audit_rows(store_runtime)] == [
        "api_key_created", "api_key_created", "api_key_revoked"]


async def test_revoked_key_fails_at_once_in_this_process(store_runtime: Runtime) -> None:
    key_id, secret = await create_key(store_runtime, "alice")
    assert (await auth_service.authenticate(store_runtime, secret)).user_id == "alice"
    async with store_runtime.sessions.begin() as session:
        await auth_service.revoke_key(session=session, context=CONTEXT, key_id=uuid.UUID(key_id))
    await snapshot.notify_changed(store_runtime)
    with pytest.raises(Unauthenticated, match="invalid API key"):
        await auth_service.authenticate(store_runtime, secret)


async def test_another_process_sees_a_revocation_on_its_next_refresh(store_runtime: Runtime,
                                                                     quiet_settings: object) -> None:
    key_id, secret = await create_key(store_runtime, "alice")
    other = Runtime.create(store_runtime.settings)
    try:
        await snapshot.start(other)
        other_store = snapshot.get_store(other)
        assert other_store is not None
        assert await other_store.refresh_if_changed() is False
        assert (await auth_service.authenticate(other, secret)).user_id == "alice"
        async with store_runtime.sessions.begin() as session:
            await auth_service.revoke_key(session=session, context=CONTEXT, key_id=uuid.UUID(key_id))
        # Until its refresh the other process still accepts the key: that is the documented bound.
        assert (await auth_service.authenticate(other, secret)).user_id == "alice"
        assert await other_store.refresh_if_changed() is True
        with pytest.raises(Unauthenticated):
            await auth_service.authenticate(other, secret)
    finally:
        await other.close()


async def test_expired_key_fails_by_the_clock_without_a_rebuild(store_runtime: Runtime) -> None:
    _, secret = await create_key(store_runtime, "alice", expires_days=1)
    assert (await auth_service.authenticate(store_runtime, secret)).user_id == "alice"
    with time_machine.travel(datetime.now(UTC) + timedelta(days=1, seconds=5), tick=False):
        with pytest.raises(Unauthenticated, match="invalid API key"):
            await auth_service.authenticate(store_runtime, secret)
    async with store_runtime.sessions() as session:
        assert (await auth_service.list_keys(session=session)).items[0].status == "active"


async def test_disabled_user_keys_stop_working_and_tier_changes_follow(store_runtime: Runtime) -> None:
    _, first = await create_key(store_runtime, "alice", tier_code="free")
    _, second = await create_key(store_runtime, "alice")
    assert (await auth_service.authenticate(store_runtime, second)).tier_code == "free"

    async with store_runtime.sessions.begin() as session:
        updated = await auth_service.set_user(session=session, context=CONTEXT, user_id="alice",
                                              tier_code="enterprise", role="viewer")
    assert (updated.tier_code, updated.role) == ("enterprise", "viewer")
    await snapshot.notify_changed(store_runtime)
    for secret in (first, second):
        principal = await auth_service.authenticate(store_runtime, secret)
        assert (principal.tier_code, principal.role) == ("enterprise", "viewer")

    async with store_runtime.sessions.begin() as session:
        await auth_service.set_user(session=session, context=CONTEXT, user_id="alice", disabled=True)
    await snapshot.notify_changed(store_runtime)
    for secret in (first, second):
        with pytest.raises(Unauthenticated, match="invalid API key"):
            await auth_service.authenticate(store_runtime, secret)

    async with store_runtime.sessions.begin() as session:
        await auth_service.set_user(session=session, context=CONTEXT, user_id="alice", disabled=False)
        await auth_service.set_user(session=session, context=CONTEXT, user_id="alice", disabled=False)
        with pytest.raises(NotFound):
            await auth_service.set_user(session=session, context=CONTEXT, user_id="nobody", tier_code="free")
    await snapshot.notify_changed(store_runtime)
    assert (await auth_service.authenticate(store_runtime, first)).user_id == "alice"
    actions = [r.action_type for r in await audit_rows(store_runtime)]
    assert actions == ["api_key_created", "api_key_created", "user_updated", "user_updated", "user_updated"]


async def test_keys_create_with_tier_updates_the_existing_user(store_runtime: Runtime) -> None:
    _, old = await create_key(store_runtime, "alice", tier_code="free")
    await create_key(store_runtime, "alice", tier_code="starter", role="viewer")
    principal = await auth_service.authenticate(store_runtime, old)
    assert (principal.tier_code, principal.role) == ("starter", "viewer")
    last = (await audit_rows(store_runtime))[-1]
    assert last.details is not None
    assert last.details["before"] == {"user": {"id": "alice", "tier_code": "free", "role": "user",
                                               "disabled": False}}


async def test_service_key_acts_for_an_existing_enabled_user(store_runtime: Runtime) -> None:
    _, service_secret = await create_key(store_runtime, "openwebui", kind="service", agent_id="webui-agent")
    _, user_secret = await create_key(store_runtime, "alice", tier_code="professional")
    async with store_runtime.sessions.begin() as session:
        await auth_service.set_user(session=session, context=CONTEXT, user_id="carol", tier_code="starter",
                                    create=True)
        await auth_service.create_user(session=session, context=CONTEXT, user_id="dave", disabled=True)
        with pytest.raises(Conflict):
            await auth_service.create_user(session=session, context=CONTEXT, user_id="dave")
    await snapshot.notify_changed(store_runtime)

    own = await auth_service.authenticate(store_runtime, service_secret)
    assert (own.user_id, own.key_kind, own.agent_id) == ("openwebui", "service", "webui-agent")
    acting = await auth_service.authenticate(store_runtime, service_secret, acting_for="alice")
    assert (acting.user_id, acting.tier_code, acting.key_kind) == ("alice", "professional", "service")
    assert acting.agent_id == "webui-agent" and acting.api_key_id == own.api_key_id
    assert (await auth_service.authenticate(store_runtime, service_secret, acting_for="carol")).tier_code == (
        "starter")
    with pytest.raises(Unauthenticated, match="'mallory' named in x-unillm-user does not exist"):
        await auth_service.authenticate(store_runtime, service_secret, acting_for="mallory")
    with pytest.raises(Unauthenticated, match="'dave' named in x-unillm-user is disabled"):
        await auth_service.authenticate(store_runtime, service_secret, acting_for="dave")
    # A user key may name itself, but nobody else.
    for header in ("alice", ""):
        itself = await auth_service.authenticate(store_runtime, user_secret, acting_for=header)
        assert itself.user_id == "alice"
    with pytest.raises(PermissionDenied, match="only service keys"):
        await auth_service.authenticate(store_runtime, user_secret, acting_for="carol")


async def test_unknown_key_and_bad_options(store_runtime: Runtime) -> None:
    with pytest.raises(Unauthenticated, match=r"^invalid API key$"):
        await auth_service.authenticate(store_runtime, keys.generate_secret())
    async with store_runtime.sessions.begin() as session:
        with pytest.raises(BadRequest):
            await auth_service.create_key(session=session, context=CONTEXT, user_id="x", kind="robot")
        with pytest.raises(BadRequest):
            await auth_service.create_key(session=session, context=CONTEXT, user_id="x", expires_days=0)


async def test_bootstrap_creates_an_admin_key_once(store_runtime: Runtime) -> None:
    async with store_runtime.sessions.begin() as session:
        secret = await auth_service.ensure_bootstrap_admin(session=session, admin_key=None)
    assert secret is not None
    async with store_runtime.sessions.begin() as session:
        assert await auth_service.ensure_bootstrap_admin(session=session, admin_key=None) is None
    await snapshot.notify_changed(store_runtime)
    principal = await auth_service.authenticate(store_runtime, secret)
    assert (principal.user_id, principal.role) == ("admin", "admin")
    async with store_runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ApiKey)) == 1
    # Once the only admin key is revoked, the next start creates a new one.
    assert principal.api_key_id is not None
    async with store_runtime.sessions.begin() as session:
        await auth_service.revoke_key(session=session, context=CONTEXT, key_id=principal.api_key_id)
    async with store_runtime.sessions.begin() as session:
        again = await auth_service.ensure_bootstrap_admin(session=session, admin_key=None)
    assert again is not None and again != secret


async def test_bootstrap_registers_a_configured_admin_key(store_runtime: Runtime) -> None:
    configured = "configured-admin-key-0123456789abcdef"
    for _ in range(2):
        async with store_runtime.sessions.begin() as session:
            assert await auth_service.ensure_bootstrap_admin(session=session, admin_key=configured) is None
    await snapshot.notify_changed(store_runtime)
    principal = await auth_service.authenticate(store_runtime, configured)
    assert (principal.user_id, principal.role) == ("admin", "admin")
    async with store_runtime.sessions() as session:
        stored = (await session.scalars(select(ApiKey))).all()
        user = await session.get(User, "admin")
    assert len(stored) == 1 and stored[0].prefix == configured[:9]
    assert user is not None and user.role == "admin"
    async with store_runtime.sessions.begin() as session:
        with pytest.raises(ConfigError, match="too short"):
            await auth_service.ensure_bootstrap_admin(session=session, admin_key="short")


async def test_last_used_is_written_in_bulk_not_per_request(store_runtime: Runtime) -> None:
    key_id, secret = await create_key(store_runtime, "alice")
    for _ in range(3):
        await auth_service.authenticate(store_runtime, secret)
    async with store_runtime.sessions() as session:
        assert (await session.get(ApiKey, uuid.UUID(key_id))).last_used_at is None  # type: ignore[union-attr]
    store = snapshot.get_store(store_runtime)
    assert store is not None
    assert await store.flush_last_used() == 1
    assert await store.flush_last_used() == 0
    async with store_runtime.sessions() as session:
        stored = await session.get(ApiKey, uuid.UUID(key_id))
    assert stored is not None and stored.last_used_at is not None
    assert abs((stored.last_used_at - datetime.now(UTC)).total_seconds()) < 600


async def test_a_canary_secret_never_reaches_logs_or_audit_rows(store_runtime: Runtime,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # drivers log bound parameters (the digest) at DEBUG
    caplog.set_level(logging.DEBUG, logger="unillm")
    key_id, secret = await create_key(store_runtime, "alice", kind="service")
    await auth_service.authenticate(store_runtime, secret)
    for bad in (secret + "x", secret[:-1]):
        with pytest.raises(Unauthenticated) as caught:
            await auth_service.authenticate(store_runtime, bad)
        assert secret[12:] not in str(caught.value)
    async with store_runtime.sessions.begin() as session:
        await auth_service.revoke_key(session=session, context=CONTEXT, key_id=uuid.UUID(key_id))
    async with store_runtime.sessions() as session:
        details = [json.dumps(list(row)) for row in (await session.execute(
            select(AuditLog.details, AuditLog.user_id, AuditLog.resource_id))).all()]
        raw = (await session.execute(text("SELECT * FROM audit_log"))).all()
    dumped = "\n".join(details) + repr(raw)
    assert key_id in dumped
    for needle in (secret, secret[12:], keys.hash_secret(secret)):
        assert needle not in dumped
        assert needle not in caplog.text
