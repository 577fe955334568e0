"""Users, API keys, the bootstrap admin key, and `authenticate` (the per-request key check).

Callers own the transaction (routers and the CLI wrap each mutation in `session.begin()`), so the
change, its one audit row and the config-version bump commit or roll back together; after commit
they call `snapshot.notify_changed(runtime)` so this process sees the change at once.

Secrets: a key's secret exists only in the return value of `create_key` (and of
`ensure_bootstrap_admin`); the database, audit rows, logs and errors carry the display prefix.

Acting for a user (`x-unillm-user`): only `service` keys may do it, and the user must already exist
and be enabled, otherwise 401 with a message naming the problem. Unknown users are deliberately not
created on the fly: a typo in a header would otherwise mint users with a default tier, and the tier
decides what they may use. Register them with `unillm users set USER --tier T` (or `keys create`).
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.audit import service as audit_service
from unillm.audit.schemas import AuditContext
from unillm.auth import keys
from unillm.auth.models import ApiKey, User
from unillm.auth.principal import Principal
from unillm.auth.schemas import ApiKeyPage, ApiKeyRead, KeyStatus, UserPage, UserRead
from unillm.auth.snapshot import get_store
from unillm.db.config_version import bump_config_version
from unillm.db.types import utcnow
from unillm.errors import BadRequest, ConfigError, Conflict, NotFound, PermissionDenied, Unauthenticated
from unillm.pagination import fetch_offset_page, parse_offset_cursor
from unillm.runtime import Runtime

MAX_PAGE = 500
DEFAULT_TIER = "free"
DEFAULT_ROLE = "user"
BOOTSTRAP_USER = "admin"
BOOTSTRAP_CONTEXT = AuditContext(actor="system:bootstrap", user_agent="unillm-serve")
INVALID_KEY = "invalid API key"


# --- views -----------------------------------------------------------------------------------


def key_status(key: ApiKey, now: datetime | None = None) -> KeyStatus:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def key_to_read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(
        id=key.id, prefix=key.prefix, name=key.name, user_id=key.user_id, kind=key.kind,
        agent_id=key.agent_id, created_at=key.created_at, created_by=key.created_by,
        expires_at=key.expires_at, revoked_at=key.revoked_at, last_used_at=key.last_used_at,
        status=key_status(key),
    )


def user_to_read(user: User) -> UserRead:
    return UserRead(id=user.id, tier_code=user.tier_code, role=user.role, disabled=user.disabled,
                    created_at=user.created_at, updated_at=user.updated_at,
                    metadata=dict(user.metadata_ or {}))


def _key_audit(key: ApiKey) -> dict[str, Any]:
    """The audited image of a key: the display prefix, never the secret or its hash."""
    return {"id": str(key.id), "prefix": key.prefix, "name": key.name, "user_id": key.user_id,
            "kind": key.kind, "agent_id": key.agent_id,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None}


def _user_audit(user: User) -> dict[str, Any]:
    return {"id": user.id, "tier_code": user.tier_code, "role": user.role, "disabled": user.disabled}




# --- users -----------------------------------------------------------------------------------


async def get_user_or_raise(*, session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id!r} not found")
    return user


async def list_users(*, session: AsyncSession, limit: int = 100, cursor: str | None = None,
                     tier_code: str | None = None, role: str | None = None) -> UserPage:
    offset = parse_offset_cursor(cursor)
    limit = max(1, min(limit, MAX_PAGE))
    query = select(User).order_by(User.id)
    if tier_code is not None:
        query = query.where(User.tier_code == tier_code)
    if role is not None:
        query = query.where(User.role == role)
    rows, next_cursor = await fetch_offset_page(session, query, offset=offset, limit=limit)
    return UserPage(items=[user_to_read(row) for row in rows], next_cursor=next_cursor)


def _apply(user: User, tier_code: str | None, role: str | None, disabled: bool | None) -> bool:
    changed = False
    for column, value in (("tier_code", tier_code), ("role", role), ("disabled", disabled)):
        if value is not None and getattr(user, column) != value:
            setattr(user, column, value)
            changed = True
    return changed


async def _upsert_user(session: AsyncSession, user_id: str, tier_code: str | None, role: str | None,
                       disabled: bool | None) -> tuple[User, dict[str, Any] | None, bool]:
    """The user after the change, its audit image before (None when new), and whether anything changed."""
    user = await session.get(User, user_id)
    if user is None:
        user = User(id=user_id, tier_code=tier_code or DEFAULT_TIER, role=role or DEFAULT_ROLE,
                    disabled=bool(disabled), metadata_={})
        session.add(user)
        try:
            await session.flush()
        except IntegrityError as exc:  # created concurrently between our read and insert
            raise Conflict(f"user {user_id!r} was created concurrently; retry") from exc
        return user, None, True
    before = _user_audit(user)
    changed = _apply(user, tier_code, role, disabled)
    if changed:
        await session.flush()
    return user, before, changed


async def set_user(*, session: AsyncSession, context: AuditContext, user_id: str,
                   tier_code: str | None = None, role: str | None = None, disabled: bool | None = None,
                   create: bool = False) -> UserRead:
    """Change a user's tier, role or disabled flag (all their keys follow at once).

    `create=True` registers a new user (e.g. one a service key will act for); otherwise an unknown
    user is 404. Unchanged values write no audit row and bump nothing.
    """
    if not create:
        await get_user_or_raise(session=session, user_id=user_id)
    user, before, changed = await _upsert_user(session, user_id, tier_code, role, disabled)
    if changed:
        await session.refresh(user)
        await audit_service.record(session=session, context=context,
                                   action_type="user_created" if before is None else "user_updated",
                                   resource_type="user", resource_id=user.id, before=before,
                                   after=_user_audit(user))
    return user_to_read(user)


async def create_user(*, session: AsyncSession, context: AuditContext, user_id: str,
                      tier_code: str = DEFAULT_TIER, role: str = DEFAULT_ROLE,
                      disabled: bool = False) -> UserRead:
    """Register a new user (e.g. one a service key will act for); 409 when it exists."""
    if await session.get(User, user_id) is not None:
        raise Conflict(f"user {user_id!r} already exists; change it with PATCH /api/v1/users/{{id}}")
    return await set_user(session=session, context=context, user_id=user_id, tier_code=tier_code,
                          role=role, disabled=disabled, create=True)


# --- keys ------------------------------------------------------------------------------------


async def _insert_key(session: AsyncSession, *, secret: str, user_id: str, name: str | None,
                      kind: str, agent_id: str | None, expires_at: datetime | None,
                      created_by: str) -> ApiKey:
    key = ApiKey(id=uuid.uuid4(), prefix=keys.display_prefix(secret), key_hash=keys.hash_secret(secret),
                 name=name, user_id=user_id, kind=kind, agent_id=agent_id, created_at=utcnow(),
                 created_by=created_by, expires_at=expires_at)
    session.add(key)
    try:
        await session.flush()
    except IntegrityError as exc:  # the hash is unique: only a re-registered supplied key can clash
        raise Conflict("this API key is already registered") from exc
    return key


async def create_key(*, session: AsyncSession, context: AuditContext, user_id: str,
                     tier_code: str | None = None, role: str | None = None, name: str | None = None,
                     expires_days: int | None = None, kind: str = "user",
                     agent_id: str | None = None) -> tuple[ApiKeyRead, str]:
    """Create a key (and its user when new); returns the key's view and its secret, shown once.

    One audit row (`api_key_created`) covers both the key and any change to its user.
    """
    if kind not in ("user", "service"):
        raise BadRequest("kind must be 'user' or 'service'", param="kind")
    if expires_days is not None and expires_days < 1:
        raise BadRequest("expires_days must be at least 1", param="expires_days")
    user, user_before, user_changed = await _upsert_user(session, user_id, tier_code, role, None)
    secret = keys.generate_secret()
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days is not None else None
    key = await _insert_key(session, secret=secret, user_id=user.id, name=name, kind=kind,
                            agent_id=agent_id, expires_at=expires_at, created_by=context.actor)
    before = {"user": user_before} if user_changed and user_before is not None else None
    after = {**_key_audit(key), "user": _user_audit(user), "user_created": user_before is None}
    await audit_service.record(session=session, context=context, action_type="api_key_created",
                               resource_type="api_key", resource_id=str(key.id), before=before,
                               after=after)
    return key_to_read(key), secret


async def list_keys(*, session: AsyncSession, user_id: str | None = None, include_revoked: bool = False,
                    limit: int = 100, cursor: str | None = None) -> ApiKeyPage:
    offset = parse_offset_cursor(cursor)
    limit = max(1, min(limit, MAX_PAGE))
    query = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    rows, next_cursor = await fetch_offset_page(session, query, offset=offset, limit=limit)
    return ApiKeyPage(items=[key_to_read(row) for row in rows], next_cursor=next_cursor)


async def get_key_or_raise(*, session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    return key


async def revoke_key(*, session: AsyncSession, context: AuditContext, key_id: uuid.UUID) -> ApiKeyRead:
    """Revoke a key; revoking a revoked key is a no-op (no second audit row)."""
    key = await get_key_or_raise(session=session, key_id=key_id)
    if key.revoked_at is not None:
        return key_to_read(key)
    before = _key_audit(key)
    key.revoked_at = utcnow()
    await session.flush()
    await audit_service.record(session=session, context=context, action_type="api_key_revoked",
                               resource_type="api_key", resource_id=str(key.id), before=before,
                               after=_key_audit(key))
    return key_to_read(key)


# --- bootstrap -------------------------------------------------------------------------------


async def _usable_admin_key_exists(session: AsyncSession) -> bool:
    now = utcnow()
    query = (
        select(ApiKey.id).join(User, User.id == ApiKey.user_id)
        .where(User.role == "admin", User.disabled.is_(False), ApiKey.revoked_at.is_(None))
        .where(ApiKey.expires_at.is_(None) | (ApiKey.expires_at > now))
        .limit(1)
    )
    return (await session.scalar(query)) is not None


async def _bootstrap_user(session: AsyncSession) -> User:
    user, before, changed = await _upsert_user(session, BOOTSTRAP_USER, None, "admin", False)
    if changed and before is not None:
        await audit_service.record(session=session, context=BOOTSTRAP_CONTEXT, action_type="user_updated",
                                   resource_type="user", resource_id=user.id, before=before,
                                   after=_user_audit(user))
    return user


async def ensure_bootstrap_admin(*, session: AsyncSession, admin_key: str | None) -> str | None:
    """Make sure an admin can log in on first start.

    - `admin_key` given (UNILLM_ADMIN_KEY): register its hash as a key of user `admin` (role admin)
      unless that hash is already stored (a key an operator revoked stays revoked); returns None.
    - not given: when no usable admin-role key exists, create one and return its secret (print it
      once); otherwise None.

    Safe when several processes start at once: the config-version bump takes the write lock
    (row lock on PostgreSQL, the database lock on SQLite) before the decision is re-checked.
    """
    if admin_key is not None:
        admin_key = admin_key.strip()
        if len(admin_key) < keys.MIN_SUPPLIED_KEY_LENGTH:
            raise ConfigError(f"UNILLM_ADMIN_KEY is too short; use at least {keys.MIN_SUPPLIED_KEY_LENGTH} "
                              "random characters (or unset it and let unillm create one)")
        digest = keys.hash_secret(admin_key)
        query = select(ApiKey.id).where(ApiKey.key_hash == digest)  # eq-ok: SQL unique-index lookup
        if await session.scalar(query) is not None:
            return None
        await bump_config_version(session=session)
        if await session.scalar(query) is not None:
            return None
        await _register_bootstrap_key(session, admin_key, "bootstrap (UNILLM_ADMIN_KEY)")
        return None
    if await _usable_admin_key_exists(session):
        return None
    await bump_config_version(session=session)
    if await _usable_admin_key_exists(session):
        return None
    secret = keys.generate_secret()
    await _register_bootstrap_key(session, secret, "bootstrap (created on first start)")
    return secret


async def _register_bootstrap_key(session: AsyncSession, secret: str, name: str) -> None:
    user = await _bootstrap_user(session)
    key = await _insert_key(session, secret=secret, user_id=user.id, name=name, kind="user",
                            agent_id=None, expires_at=None, created_by=BOOTSTRAP_CONTEXT.actor)
    await audit_service.record(session=session, context=BOOTSTRAP_CONTEXT, action_type="api_key_created",
                               resource_type="api_key", resource_id=str(key.id), before=None,
                               after={**_key_audit(key), "user": _user_audit(user)})


# --- the hot path ----------------------------------------------------------------------------


async def authenticate(runtime: Runtime, secret: str, *, acting_for: str | None = None) -> Principal:
    """Resolve a bearer secret to a Principal from the in-memory snapshot: no I/O, a few µs.

    Unknown, revoked or expired keys and keys of disabled users all fail with the same
    `Unauthenticated("invalid API key")`, so the answer does not reveal which case it was.
    """
    store = get_store(runtime)
    if store is None:
        raise Unauthenticated("authentication is not available: the key snapshot is not loaded")
    snapshot = store.current
    digest = keys.hash_secret(secret)
    entry = snapshot.keys.get(digest)  # disabled users' keys are not in the snapshot at all
    now = time.time()
    if entry is None or entry.revoked or (entry.expires_at is not None and now >= entry.expires_at):
        raise Unauthenticated(INVALID_KEY)
    store.record_use(digest, now)
    if not acting_for or acting_for == entry.user_id:  # an empty x-unillm-user means none
        return entry.principal
    if entry.kind != "service":
        raise PermissionDenied("only service keys may act for another user (x-unillm-user)")
    target = snapshot.users.get(acting_for)
    shown = acting_for[:255]
    if target is None:
        raise Unauthenticated(f"user {shown!r} named in x-unillm-user does not exist; register it with "
                              "`unillm users set USER --create --tier T`")
    if target.disabled:
        raise Unauthenticated(f"user {shown!r} named in x-unillm-user is disabled")
    return Principal(user_id=acting_for, role=target.role, tier_code=target.tier_code,
                     api_key_id=entry.id, key_kind=entry.kind, agent_id=entry.agent_id)
