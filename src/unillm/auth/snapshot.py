"""The hot-path snapshot: every live API key (by hash), every user and the access policy, in memory.

Why: authenticating a request and deciding its access must cost microseconds and no I/O. A
`Snapshot` is immutable once built; `SnapshotStore` (`runtime.components["snapshot"]`) swaps in a
new one atomically (one attribute assignment), so a request sees either the old or the new state,
never a mix.

Freshness:
- In the process that made an admin change: the router (or CLI) calls `notify_changed(runtime)`
  after commit, which rebuilds before the response is sent, so e.g. a revoked key fails on the very
  next request.
- In every other process: the background loop reads `config_version` every
  `settings.snapshot_refresh_seconds` (default 5 s) and rebuilds when it moved. That interval (plus
  the rebuild time) is the staleness bound for revocations, disabled users and rule changes made
  elsewhere.
- Expiry is not trusted to the snapshot: `authenticate` compares `expires_at` with the clock on
  every call.

`last_used_at` is recorded in memory per request (one dict assignment) and written in bulk by the
same background loop, never by the request itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.access.policy import AccessPolicy
from unillm.auth.models import ApiKey, User
from unillm.auth.principal import Principal
from unillm.db.config_version import read_config_version
from unillm.runtime import Runtime

logger = logging.getLogger("unillm.auth")

COMPONENT = "snapshot"


@dataclass(frozen=True, slots=True)
class UserEntry:
    tier_code: str
    role: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class KeyEntry:
    id: uuid.UUID
    user_id: str
    kind: str
    agent_id: str | None
    # Seconds since the epoch (compared with time.time() on every call); None = never expires.
    expires_at: float | None
    # The principal of the key acting as its own user, made once per snapshot (no per-request
    # allocation). Valid because any change to the user rebuilds the whole snapshot.
    principal: Principal
    # Always False in a loaded snapshot (revoked keys are left out); kept so that an entry built by
    # hand (tests, tools) can say so and `authenticate` still refuses it.
    revoked: bool = False


KeyRow = tuple[str, uuid.UUID, str, str, str | None, float | None]
"""(key_hash, id, user_id, kind, agent_id, expires_at as epoch seconds or None)"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Read-only by convention: nothing mutates these dicts after `build`/`load_snapshot`."""

    keys: dict[str, KeyEntry]
    users: dict[str, UserEntry]
    policy: AccessPolicy
    config_version: int = 0
    built_at: float = field(default_factory=time.monotonic)

    @classmethod
    def empty(cls) -> Snapshot:
        return cls(keys={}, users={}, policy=AccessPolicy.build((), ()), config_version=-1)

    @classmethod
    def build(cls, *, keys: Iterable[KeyRow], users: dict[str, UserEntry], policy: AccessPolicy,
              config_version: int) -> Snapshot:
        """Index live keys by hash. Keys of disabled (or missing) users are left out, so the hot path
        needs no user lookup for a key acting as itself."""
        entries: dict[str, KeyEntry] = {}
        for key_hash, key_id, user_id, kind, agent_id, expires_at in keys:
            owner = users.get(user_id)
            if owner is None or owner.disabled:
                continue
            principal = Principal(user_id=user_id, role=owner.role, tier_code=owner.tier_code,
                                  api_key_id=key_id, key_kind=kind, agent_id=agent_id)
            entries[key_hash] = KeyEntry(id=key_id, user_id=user_id, kind=kind, agent_id=agent_id,
                                         expires_at=expires_at, principal=principal)
        return cls(keys=entries, users=users, policy=policy, config_version=config_version)


def _epoch(value: datetime | str | None) -> float | None:
    """Epoch seconds of a stored UTC time: a datetime (PostgreSQL) or SQLite's offset-less text."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    """asyncpg already returns a UUID (a subclass); SQLite stores 32 hex characters."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


# id and expires_at are fetched as the driver returns them (no per-row type processing on the event
# loop); `_build_in_thread` converts them.
_KEY_QUERY = (
    select(ApiKey.key_hash, type_coerce(ApiKey.id, String), ApiKey.user_id, ApiKey.kind, ApiKey.agent_id,
           type_coerce(ApiKey.expires_at, String))
    .where(ApiKey.revoked_at.is_(None))
)


def _build_in_thread(version: int, user_rows: Sequence[Any], key_rows: Sequence[Any],
                     policy: AccessPolicy) -> Snapshot:
    users = {user_id: UserEntry(tier_code=tier_code, role=role, disabled=bool(disabled))
             for user_id, tier_code, role, disabled in user_rows}
    keys = ((key_hash, _uuid(key_id), user_id, kind, agent_id, _epoch(expires_at))
            for key_hash, key_id, user_id, kind, agent_id, expires_at in key_rows)
    return Snapshot.build(keys=keys, users=users, policy=policy, config_version=version)


async def load_snapshot(*, session: AsyncSession) -> Snapshot:
    """Read the version first, then the data: if a change commits in between, the data is newer
    than the recorded version and the next poll merely rebuilds once more (never the reverse)."""
    from unillm.access.check_service import load_policy

    version = await read_config_version(session=session)
    connection = await session.connection()
    user_rows = (await connection.execute(select(User.id, User.tier_code, User.role, User.disabled))).all()
    # Revoked keys are left out: they can never authenticate again, so they need no memory.
    key_rows = (await connection.execute(_KEY_QUERY)).all()
    policy = await load_policy(session=session)
    # Building 100,000 entries takes a noticeable fraction of a second of CPU. In a worker thread the
    # event loop keeps serving requests meanwhile (the GIL is handed over every few milliseconds)
    # instead of stalling them all for the whole build.
    return await asyncio.to_thread(_build_in_thread, version, user_rows, key_rows, policy)


class SnapshotStore:
    """Owns the current snapshot, its refresh loop and the pending `last_used_at` writes."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._snapshot = Snapshot.empty()
        self._rebuild_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        # key hash -> time.time() of its latest use, since the last flush (a str key: its hash is
        # cached, so recording costs one dict store).
        self._used: dict[str, float] = {}

    @property
    def current(self) -> Snapshot:
        return self._snapshot

    def install(self, snapshot: Snapshot) -> None:
        """Swap in a snapshot built elsewhere (benchmarks, tests); `rebuild` is the normal way."""
        self._snapshot = snapshot

    def record_use(self, key_hash: str, now: float) -> None:
        self._used[key_hash] = now

    async def rebuild(self) -> Snapshot:
        """Load a fresh snapshot now. Serialised, so a rebuild requested after a commit always starts
        reading after that commit (it never piggybacks on a load that began earlier)."""
        async with self._rebuild_lock:
            async with self._runtime.sessions() as session:
                snapshot = await load_snapshot(session=session)
            self._snapshot = snapshot
            return snapshot

    async def refresh_if_changed(self) -> bool:
        """Rebuild when the stored config version differs from the loaded one; True if rebuilt."""
        async with self._runtime.sessions() as session:
            version = await read_config_version(session=session)
        if version == self._snapshot.config_version:
            return False
        await self.rebuild()
        return True

    async def flush_last_used(self) -> int:
        """Write the collected `last_used_at` values in one executemany; returns how many."""
        if not self._used:
            return 0
        pending, self._used = self._used, {}
        table = cast(Table, ApiKey.__table__)
        columns = table.c
        statement = (
            update(table)
            .where(columns.key_hash == bindparam("b_hash"))  # eq-ok: SQL, by the unique index
            .where(columns.last_used_at.is_(None) | (columns.last_used_at < bindparam("b_used")))
            .values(last_used_at=bindparam("b_used"))
        )
        rows = [{"b_hash": key_hash, "b_used": datetime.fromtimestamp(used, UTC)}
                for key_hash, used in pending.items()]
        try:
            async with self._runtime.sessions.begin() as session:
                await session.execute(statement, rows)
        except Exception:
            # Put them back (newer uses win) so the next flush retries.
            for key_hash, used in pending.items():
                if self._used.get(key_hash, 0.0) < used:
                    self._used[key_hash] = used
            raise
        return len(rows)

    async def start(self) -> None:
        await self.rebuild()
        interval = self._runtime.settings.snapshot_refresh_seconds
        if interval > 0:
            self._task = asyncio.create_task(self._refresh_loop(interval), name="auth-snapshot-refresh")

    async def _refresh_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush_last_used()
                await self.refresh_if_changed()
            except Exception:  # a database hiccup must not stop refreshing; the old snapshot stays
                logger.warning("auth snapshot could not be refreshed; keeping the previous one",
                               exc_info=True)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush_last_used()
        except Exception:
            logger.warning("could not write the last-used times of API keys at shutdown", exc_info=True)


async def start(runtime: Runtime) -> None:
    """Start hook (first in `app._start_hooks()`): later hooks and every request can authenticate."""
    store = SnapshotStore(runtime)
    runtime.components[COMPONENT] = store
    await store.start()


def get_store(runtime: Runtime) -> SnapshotStore | None:
    store = runtime.components.get(COMPONENT)
    return store if isinstance(store, SnapshotStore) else None


async def notify_changed(runtime: Runtime) -> None:
    """Call after committing an admin change: this process sees it before the response is sent.

    A no-op where no store runs (the CLI); other processes pick the change up within
    `snapshot_refresh_seconds` through the config version.
    """
    store = get_store(runtime)
    if store is None:
        return
    try:
        await store.rebuild()
    except Exception:
        # The change is committed; failing the admin request now would suggest it was not. The
        # refresh loop sees the new config version and rebuilds on its next round.
        logger.warning("auth snapshot rebuild after an admin change failed; the refresh loop will retry",
                       exc_info=True)
