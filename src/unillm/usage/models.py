"""The usage ledger (`llm_usage_logs`), `model_pricing` and the daily roll-ups.

`daily_cost_summary` answers reports by day, user, provider and model; `daily_usage_segments`
(migration 0005) answers them by tier and source, so no summary has to scan the log.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from unillm.db.base import Base
from unillm.db.types import BigIntPK, JSONType, Money, UTCDateTime, utcnow

USAGE_STATUSES = ("success", "error", "cancelled")


class UsageLog(Base):
    __tablename__ = "llm_usage_logs"
    __table_args__ = (
        Index("ix_llm_usage_logs_provider", "provider"),
        Index("ix_llm_usage_logs_source", "source"),
        Index("ix_llm_usage_logs_timestamp_model_id", "timestamp", "model_id"),
        Index("ix_llm_usage_logs_server_id", "server_id"),
        Index("ix_llm_usage_logs_deployment_id", "deployment_id"),
        Index("ix_llm_usage_logs_user_id_timestamp", "user_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # The idempotency key: a request written twice is stored once.
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[str | None] = mapped_column(String(255))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column()
    tier_code: Mapped[str | None] = mapped_column(String(50))
    model_id: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str | None] = mapped_column(String(100))
    server_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("model_servers.id", ondelete="SET NULL"))
    deployment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("model_deployments.id", ondelete="SET NULL")
    )
    source: Mapped[str | None] = mapped_column(String(50))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cached_prompt_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    usage_estimated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    # The prices in force when the row was written; NULL prices mean the model was unpriced.
    input_price_per_1k: Mapped[Decimal | None] = mapped_column(Money)
    output_price_per_1k: Mapped[Decimal | None] = mapped_column(Money)
    cached_input_price_per_1k: Mapped[Decimal | None] = mapped_column(Money)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    time_to_first_token_ms: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="success", server_default="success")
    status_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)


class ModelPricing(Base):
    __tablename__ = "model_pricing"
    __table_args__ = (
        Index("ix_model_pricing_provider", "provider"),
        Index("ix_model_pricing_last_updated", "last_updated"),
    )

    model_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str | None] = mapped_column(String(100))
    input_price_per_1k: Mapped[Decimal] = mapped_column(Money)
    output_price_per_1k: Mapped[Decimal] = mapped_column(Money)
    cached_input_price_per_1k: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    source: Mapped[str] = mapped_column(String(50), default="manual", server_default="manual")


class RollupMeasures:
    """The measures both daily roll-ups keep, equal to the sums of the usage rows they summarise."""

    total_cost_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    total_requests: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Requests counted here that had no price: reports show them as unpriced, never as $0.
    unpriced_requests: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Where the tokens went (migration 0004); cached tokens are part of prompt tokens.
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cached_prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    error_requests: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class DailyCostSummary(RollupMeasures, Base):
    __tablename__ = "daily_cost_summary"
    __table_args__ = (
        Index("ix_daily_cost_summary_user_id_date", "user_id", "date"),
        Index("ix_daily_cost_summary_provider_date", "provider", "date"),
        Index("ix_daily_cost_summary_date", "date"),
    )

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    provider: Mapped[str] = mapped_column(String(100), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(255), primary_key=True)


class DailyUsageSegment(RollupMeasures, Base):
    """Per quota day, tier, source, provider and model: the same measures as `DailyCostSummary`.

    A log row without a tier, source or provider is filed under "" (key columns cannot be NULL).
    """

    __tablename__ = "daily_usage_segments"
    __table_args__ = (
        Index("ix_daily_usage_segments_tier_code_date", "tier_code", "date"),
        Index("ix_daily_usage_segments_source_date", "source", "date"),
        Index("ix_daily_usage_segments_date", "date"),
    )

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    tier_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    source: Mapped[str] = mapped_column(String(50), primary_key=True)
    provider: Mapped[str] = mapped_column(String(100), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(255), primary_key=True)
