"""The `llm_providers` table: one cloud provider account and its encrypted credential."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from unillm.db.base import Base
from unillm.db.types import JSONType, UTCDateTime, utcnow

PROVIDER_TYPES = ("openrouter", "openai", "anthropic", "google", "cohere", "groq", "together", "mistral",
                  "custom")


class LLMProvider(Base):
    __tablename__ = "llm_providers"
    __table_args__ = (
        UniqueConstraint("name", "type"),
        Index("ix_llm_providers_enabled", "enabled"),
        Index("ix_llm_providers_type", "type"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(50))
    base_url: Mapped[str | None] = mapped_column(String(500))
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    # A masked hint of the credential (`sk-…abcd`) so responses never need to decrypt it.
    api_key_hint: Mapped[str | None] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
