"""The `users` and `api_keys` tables.

A user is an external id owned by the operator's identity system; unillm keeps its tier, role and
disabled flag. Keys are stored as a display prefix plus the SHA-256 of the whole secret.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from unillm.db.base import Base
from unillm.db.types import JSONType, UTCDateTime, utcnow

ROLES_WITH_ADMIN_ACCESS = ("admin", "viewer")
KEY_KINDS = ("user", "service")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_tier_code", "tier_code"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    tier_code: Mapped[str] = mapped_column(String(50), default="free", server_default="free")
    role: Mapped[str] = mapped_column(String(50), default="user", server_default="user")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The first characters of the secret, shown in listings so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # user: acts as its own user; service: may act for the user named in x-unillm-user.
    kind: Mapped[str] = mapped_column(String(20), default="user", server_default="user")
    # Set when the key belongs to an agent, so `model_permissions` of type agent apply to it.
    agent_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
