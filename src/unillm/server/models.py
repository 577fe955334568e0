"""The `model_servers` and `installed_models` tables: local servers and what they hold."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from unillm.db.base import Base
from unillm.db.types import JSONType, UTCDateTime, utcnow

SERVER_TYPES = ("ollama", "vllm", "lmstudio", "llamacpp")
HEALTH_STATUSES = ("healthy", "degraded", "unhealthy", "unknown")


class ModelServer(Base):
    __tablename__ = "model_servers"
    __table_args__ = (
        UniqueConstraint("host", "port"),
        Index("ix_model_servers_health_status_enabled", "health_status", "enabled"),
        Index("ix_model_servers_type", "type"),
        Index("ix_model_servers_location", "location"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(50))
    location: Mapped[str] = mapped_column(String(20), default="local", server_default="local")
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    gpu_id: Mapped[int | None] = mapped_column(Integer)
    auto_start: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    health_status: Mapped[str] = mapped_column(String(20), default="unknown", server_default="unknown")
    last_health_check: Mapped[datetime | None] = mapped_column(UTCDateTime)
    health_latency_ms: Mapped[float | None] = mapped_column(Float)
    health_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)


class InstalledModel(Base):
    __tablename__ = "installed_models"
    __table_args__ = (
        UniqueConstraint("server_id", "model_name", "version"),
        Index("ix_installed_models_server_id", "server_id"),
        Index("ix_installed_models_model_name", "model_name"),
        Index("ix_installed_models_last_used", text("last_used DESC NULLS LAST")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    server_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("model_servers.id", ondelete="CASCADE"))
    model_name: Mapped[str] = mapped_column(String(255))
    file_path: Mapped[str | None] = mapped_column(String(1000))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    quantization: Mapped[str | None] = mapped_column(String(50))
    # Not NULL so that the unique key (server_id, model_name, version) holds on PostgreSQL too.
    version: Mapped[str] = mapped_column(String(100), default="", server_default="")
    family: Mapped[str | None] = mapped_column(String(100))
    context_length: Mapped[int | None] = mapped_column(Integer)
    digest: Mapped[str | None] = mapped_column(String(128))
    # present, or gone: the server no longer reports it (kept so usage history keeps its target).
    status: Mapped[str] = mapped_column(String(20), default="present", server_default="present")
    gone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
