"""The `tier_model_rules`, `model_permissions` and `quota_counters` tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from unillm.db.base import Base
from unillm.db.types import UTCDateTime, utcnow

ACCESS_TYPES = ("user", "role", "tier", "agent")


class TierModelRule(Base):
    __tablename__ = "tier_model_rules"
    __table_args__ = (
        UniqueConstraint("tier_code", "model_pattern"),
        Index("ix_tier_model_rules_tier_code", "tier_code"),
        Index("ix_tier_model_rules_model_pattern", "model_pattern"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tier_code: Mapped[str] = mapped_column(String(50))
    model_pattern: Mapped[str] = mapped_column(String(255))
    allowed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    max_requests_per_day: Mapped[int | None] = mapped_column(Integer)
    max_context_length: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ModelPermission(Base):
    __tablename__ = "model_permissions"
    __table_args__ = (
        UniqueConstraint("model_id", "access_type", "access_value"),
        Index("ix_model_permissions_model_id", "model_id"),
        Index("ix_model_permissions_access_type_access_value", "access_type", "access_value"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    model_id: Mapped[str] = mapped_column(String(255))
    access_type: Mapped[str] = mapped_column(String(20))
    access_value: Mapped[str] = mapped_column(String(255))
    allowed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255))


class QuotaCounter(Base):
    """One user's admitted requests under one rule on one quota day (the database counter backend)."""

    __tablename__ = "quota_counters"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
