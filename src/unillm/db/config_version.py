"""The config version: one counter that every admin mutation bumps in its own transaction.

Why: every process keeps in-memory snapshots (keys/users/rules in the auth snapshot, routing tables in
the gateway). Polling one integer is cheap; comparing tables is not. A process rebuilds its snapshot
only when the version it last loaded differs from the stored one.

`audit_service.record()` bumps it for every audited admin change (keys, users, rules, permissions,
providers, servers, deployments, pricing, the seed), so the bump commits or rolls back with the change.
Call it directly only for changes that are not audited but alter what processes route on (a server's
health, a sync, the reconcile loop). On PostgreSQL the UPDATE row-locks the single row until commit,
which serialises admin writes; they are rare, so that is fine and keeps the counter increasing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Integer, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from unillm.db.base import Base
from unillm.db.types import UTCDateTime, utcnow

CONFIG_VERSION_ROW_ID = 1


class ConfigVersion(Base):
    __tablename__ = "config_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def bump_config_version(*, session: AsyncSession) -> None:
    """Increment the version in the caller's transaction (commits with the admin change)."""
    await session.execute(
        update(ConfigVersion)
        .where(ConfigVersion.id == CONFIG_VERSION_ROW_ID)
        .values(version=ConfigVersion.version + 1, updated_at=utcnow())
    )


async def read_config_version(*, session: AsyncSession) -> int:
    """The stored version; 0 when the row is missing (a database migrated before 0003 was seeded)."""
    value = await session.scalar(
        select(ConfigVersion.version).where(ConfigVersion.id == CONFIG_VERSION_ROW_ID)
    )
    return int(value) if value is not None else 0
