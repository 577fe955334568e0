"""Recording, listing and verifying audit rows. Append-only: there is no update or delete here.

PostgreSQL chains rows in its BEFORE INSERT trigger, so a plain INSERT is enough (and rows written by
anyone else are chained too). SQLite has no SHA-256 in SQL, so `record()` chains the row itself
under SQLite's single write lock: it takes the lock with a harmless write FIRST (in Python's legacy
sqlite3 transaction mode a SELECT before any write runs outside the transaction and could read a
stale last row), then reads the last row, then inserts the exact JSON text it hashed.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from sqlalchemy import Row, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.audit.chain import (
    ChainRow,
    ChainVerifier,
    VerifyResult,
    format_timestamp,
    row_hash,
    timestamp_from_sqlite_text,
)
from unillm.audit.models import AuditLog
from unillm.audit.schemas import AuditContext, AuditLogRead
from unillm.db.config_version import bump_config_version
from unillm.db.types import utcnow
from unillm.errors import BadRequest

MASK = "***"
SENSITIVE_NAMES = frozenset({
    "api_key", "apikey", "key", "secret", "password", "passwd", "token", "authorization",
    "access_token", "refresh_token", "api_key_encrypted", "key_hash", "secret_key", "credential",
    "credentials", "cookie", "private_key", "client_secret",
})
SENSITIVE_SUFFIXES = ("_key", "_secret", "_password", "_token", "_encrypted", "_credentials")
SENSITIVE_PARTS = ("password", "secret")

VERIFY_BATCH = 1000
MAX_LIMIT = 500

_PG_VERIFY = text("""
    SELECT id, to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS ts, user_id,
           action_type, resource_type, resource_id, details::text AS details, ip_address, user_agent,
           prev_hash, row_hash
    FROM audit_log WHERE id > :after ORDER BY id LIMIT :batch
""")
_SQLITE_VERIFY = text("""
    SELECT id, timestamp AS ts, user_id, action_type, resource_type, resource_id, details, ip_address,
           user_agent, prev_hash, row_hash
    FROM audit_log WHERE id > :after ORDER BY id LIMIT :batch
""")
_SQLITE_INSERT = text("""
    INSERT INTO audit_log (id, timestamp, user_id, action_type, resource_type, resource_id, details,
                           ip_address, user_agent, prev_hash, row_hash)
    VALUES (:id, :ts, :user_id, :action_type, :resource_type, :resource_id, :details, :ip_address,
            :user_agent, :prev_hash, :row_hash)
""")


def is_sensitive(name: str) -> bool:
    normalized = name.lower().replace("-", "_")
    return (normalized in SENSITIVE_NAMES or normalized.endswith(SENSITIVE_SUFFIXES)
            or any(part in normalized for part in SENSITIVE_PARTS))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): (MASK if v is not None and is_sensitive(str(k)) else _jsonable(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, Decimal | UUID):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def build_details(before: dict[str, Any] | None, after: dict[str, Any] | None,
                  extra: dict[str, Any] | None) -> dict[str, Any]:
    """The stored details: before/after values and extras, JSON-safe, secrets masked by key name."""
    details: dict[str, Any] = {"before": before, "after": after, **(extra or {})}
    masked: dict[str, Any] = _jsonable(details)
    return masked


async def record(*, session: AsyncSession, context: AuditContext, action_type: str,
                 resource_type: str, resource_id: str | None, before: dict[str, Any] | None = None,
                 after: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> None:
    """Append one audit row in the caller's transaction (the caller commits it with its change).

    Every administrative change alters something processes hold in memory (keys, rules, routes,
    prices), so recording one also bumps the config version in the same transaction: running
    processes rebuild their snapshots, and no service can audit a change yet forget to publish it.
    """
    await bump_config_version(session=session)
    details = build_details(before, after, extra)
    values: dict[str, Any] = {
        "user_id": context.actor, "action_type": action_type, "resource_type": resource_type,
        "resource_id": resource_id, "ip_address": context.ip_address, "user_agent": context.user_agent,
    }
    if session.get_bind().dialect.name != "sqlite":
        await session.execute(insert(AuditLog).values(timestamp=utcnow(), details=details, **values))
        return
    # Take SQLite's write lock before reading the chain's end (see the module docstring).
    await session.execute(text("DELETE FROM audit_log WHERE 0 = 1"))
    last = (await session.execute(
        text("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1")
    )).first()
    new_id = (last[0] + 1) if last is not None else 1
    prev_hash: str | None = last[1] if last is not None else None
    now = utcnow().replace(tzinfo=None)
    details_text = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    chain_row = ChainRow(id=new_id, timestamp=format_timestamp(now), details=details_text,
                         prev_hash=prev_hash, row_hash=None, **values)
    await session.execute(_SQLITE_INSERT, {
        "id": new_id, "ts": now.strftime("%Y-%m-%d %H:%M:%S.%f"), "details": details_text,
        "prev_hash": prev_hash, "row_hash": row_hash(chain_row, prev_hash), **values,
    })


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    try:
        value = int(cursor)
    except ValueError as exc:
        raise BadRequest(f"cursor {cursor!r} is not valid; pass the next_cursor of a previous page",
                         param="cursor") from exc
    if value < 1:
        raise BadRequest("cursor must be a positive row id", param="cursor")
    return value


async def query(*, session: AsyncSession, actor: str | None = None, resource_type: str | None = None,
                resource_id: str | None = None, action_type: str | None = None,
                since: datetime | None = None, until: datetime | None = None, limit: int = 50,
                cursor: str | None = None) -> tuple[list[AuditLogRead], str | None]:
    """Rows newest first, filtered; `next_cursor` is None on the last page (keyset on id)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}", param="limit")
    statement = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit + 1)
    conditions = [
        (actor, AuditLog.user_id), (resource_type, AuditLog.resource_type),
        (resource_id, AuditLog.resource_id), (action_type, AuditLog.action_type),
    ]
    for value, column in conditions:
        if value is not None:
            statement = statement.where(column == value)
    if since is not None:
        statement = statement.where(AuditLog.timestamp >= since)
    if until is not None:
        statement = statement.where(AuditLog.timestamp < until)
    before_id = _decode_cursor(cursor)
    if before_id is not None:
        statement = statement.where(AuditLog.id < before_id)
    rows = list((await session.execute(statement)).scalars())
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return [AuditLogRead.model_validate(row) for row in rows[:limit]], next_cursor


def _chain_row(row: Row[Any], sqlite: bool) -> ChainRow:
    ts = timestamp_from_sqlite_text(str(row.ts)) if sqlite else str(row.ts)
    return ChainRow(id=int(row.id), timestamp=ts, user_id=row.user_id, action_type=row.action_type,
                    resource_type=row.resource_type, resource_id=row.resource_id, details=row.details,
                    ip_address=row.ip_address, user_agent=row.user_agent, prev_hash=row.prev_hash,
                    row_hash=row.row_hash)


async def verify(*, session: AsyncSession) -> VerifyResult:
    """Recompute the whole chain from the stored text, in batches; stops at the first fault."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    statement = _SQLITE_VERIFY if sqlite else _PG_VERIFY
    verifier = ChainVerifier()
    after = 0
    while True:
        batch = (await session.execute(statement, {"after": after, "batch": VERIFY_BATCH})).all()
        if not batch or not verifier.feed(_chain_row(row, sqlite) for row in batch):
            break
        after = int(batch[-1].id)
    return verifier.result()
