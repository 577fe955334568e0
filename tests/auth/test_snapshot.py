"""The snapshot without a database: what `Snapshot.build` keeps, and how `authenticate` treats entries
(disabled owners, revoked and expired entries, service keys), using an installed snapshot."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from unillm.access.policy import AccessPolicy, PermissionSpec, RuleSpec, Subject
from unillm.auth import keys
from unillm.auth import service as auth_service
from unillm.auth.snapshot import COMPONENT, KeyEntry, Snapshot, SnapshotStore, UserEntry, notify_changed
from unillm.errors import Unauthenticated
from unillm.runtime import Runtime

USERS = {
    "alice": UserEntry(tier_code="free", role="user", disabled=False),
    "bob": UserEntry(tier_code="starter", role="viewer", disabled=True),
    "svc": UserEntry(tier_code="free", role="user", disabled=False),
}
POLICY = AccessPolicy.build(
    [RuleSpec(id="r1", tier_code="free", model_pattern="ollama/*", allowed=True, max_requests_per_day=50,
              max_context_length=2048, priority=100)],
    [PermissionSpec(id="p1", model_id="openai/gpt-4o", access_type="user", access_value="alice",
                    allowed=True)],
)


@pytest.fixture
async def installed(tmp_path: Path) -> AsyncIterator[tuple[Runtime, SnapshotStore, dict[str, str]]]:
    secrets = {name: keys.generate_secret() for name in ("alice", "alice-expired", "bob", "svc")}
    rows = [
        (keys.hash_secret(secrets["alice"]), uuid.uuid4(), "alice", "user", "agent-7", None),
        (keys.hash_secret(secrets["alice-expired"]), uuid.uuid4(), "alice", "user", None, time.time() - 1),
        (keys.hash_secret(secrets["bob"]), uuid.uuid4(), "bob", "user", None, None),
        (keys.hash_secret(secrets["svc"]), uuid.uuid4(), "svc", "service", None, time.time() + 3600),
    ]
    runtime = Runtime.create(make_settings(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path))
    store = SnapshotStore(runtime)
    store.install(Snapshot.build(keys=rows, users=USERS, policy=POLICY, config_version=3))
    runtime.components[COMPONENT] = store
    try:
        yield runtime, store, secrets
    finally:
        runtime.components.clear()
        await runtime.close()


def test_build_leaves_out_keys_of_disabled_or_missing_users() -> None:
    rows = [(f"h{i}", uuid.uuid4(), user, "user", None, None)
            for i, user in enumerate(("alice", "bob", "ghost"), start=1)]
    snapshot = Snapshot.build(keys=rows, users=USERS, policy=POLICY, config_version=1)
    assert set(snapshot.keys) == {"h1"}
    assert snapshot.keys["h1"].principal.tier_code == "free" and snapshot.config_version == 1


async def test_authenticate_then_decide(installed: tuple[Runtime, SnapshotStore, dict[str, str]]) -> None:
    runtime, store, secrets = installed
    principal = await auth_service.authenticate(runtime, secrets["alice"])
    assert (principal.user_id, principal.agent_id, principal.tier_code) == ("alice", "agent-7", "free")
    subject = Subject(user_id=principal.user_id, role=principal.role, tier_code=principal.tier_code,
                      agent_id=principal.agent_id)
    assert store.current.policy.decide(subject, "openai/gpt-4o").allowed
    assert store.current.policy.decide(subject, "ollama/llama3").max_requests_per_day == 50
    assert not store.current.policy.decide(subject, "anthropic/claude-3").allowed
    for name in ("alice-expired", "bob"):
        with pytest.raises(Unauthenticated, match="invalid API key"):
            await auth_service.authenticate(runtime, secrets[name])
    acting = await auth_service.authenticate(runtime, secrets["svc"], acting_for="alice")
    assert (acting.user_id, acting.key_kind) == ("alice", "service")
    with pytest.raises(Unauthenticated, match="is disabled"):
        await auth_service.authenticate(runtime, secrets["svc"], acting_for="bob")


async def test_a_revoked_entry_is_refused(installed: tuple[Runtime, SnapshotStore, dict[str, str]]) -> None:
    runtime, store, secrets = installed
    digest = keys.hash_secret(secrets["alice"])
    entry = store.current.keys[digest]
    revoked = KeyEntry(id=entry.id, user_id=entry.user_id, kind=entry.kind, agent_id=entry.agent_id,
                       expires_at=None, principal=entry.principal, revoked=True)
    store.install(Snapshot(keys={digest: revoked}, users=USERS, policy=POLICY))
    with pytest.raises(Unauthenticated):
        await auth_service.authenticate(runtime, secrets["alice"])


async def test_without_a_store_authentication_is_refused_and_notify_is_a_no_op(tmp_path: Path) -> None:
    runtime = Runtime.create(make_settings(f"sqlite:///{tmp_path / 'unused.db'}", tmp_path))
    try:
        await notify_changed(runtime)
        with pytest.raises(Unauthenticated, match="not loaded"):
            await auth_service.authenticate(runtime, keys.generate_secret())
    finally:
        await runtime.close()
