"""The `model_deployments` table: a model instance running (or meant to run) on a server."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from unillm.db.base import Base
from unillm.db.types import JSONType, UTCDateTime, utcnow

DEPLOYMENT_STATUSES = ("loading", "running", "stopped", "error")


class ModelDeployment(Base):
    __tablename__ = "model_deployments"
    __table_args__ = (
        UniqueConstraint("server_id", "alias"),
        Index("ix_model_deployments_server_id_status", "server_id", "status"),
        Index("ix_model_deployments_model_id", "model_id"),
        Index("ix_model_deployments_alias", "alias"),
        Index("ix_model_deployments_status", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    server_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("model_servers.id", ondelete="CASCADE"))
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("installed_models.id", ondelete="CASCADE"))
    alias: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default="loading", server_default="loading")
    # What the operator asked for (running or stopped); the reconcile loop moves status towards it.
    desired_status: Mapped[str] = mapped_column(String(20), default="running", server_default="running")
    context_length: Mapped[int] = mapped_column(Integer, default=2048, server_default="2048")
    gpu_layers: Mapped[int | None] = mapped_column(Integer)
    batch_size: Mapped[int | None] = mapped_column(Integer)
    vram_usage_mb: Mapped[int | None] = mapped_column(Integer)
    tokens_per_sec: Mapped[float | None] = mapped_column(Float)
    weight: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    error_message: Mapped[str | None] = mapped_column(String(1000))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
