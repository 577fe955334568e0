"""Deployment schemas: `DeploymentCreate/Update/Read`. `model_id` is the installed model's UUID (the
column's meaning); `model_name` may name it instead, looked up on the deployment's server."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DesiredStatus = Literal["running", "stopped"]
# Aliases are bare names so they never collide with `namespace/model` ids.
ALIAS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server_id: uuid.UUID
    model_id: uuid.UUID | None = None
    model_name: str | None = Field(default=None, min_length=1, max_length=255)
    alias: str | None = Field(default=None, min_length=1, max_length=255, pattern=ALIAS_PATTERN)
    desired_status: DesiredStatus = "running"
    context_length: int = Field(default=2048, ge=1, le=10_000_000)
    gpu_layers: int | None = Field(default=None, ge=-1, le=100_000)
    batch_size: int | None = Field(default=None, ge=1, le=1_000_000)
    weight: int = Field(default=1, ge=1, le=1000)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_model(self) -> DeploymentCreate:
        if (self.model_id is None) == (self.model_name is None):
            raise ValueError("give exactly one of model_id (installed model id) or model_name")
        return self


class DeploymentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: str | None = Field(default=None, min_length=1, max_length=255, pattern=ALIAS_PATTERN)
    desired_status: DesiredStatus | None = None
    context_length: int | None = Field(default=None, ge=1, le=10_000_000)
    gpu_layers: int | None = Field(default=None, ge=-1, le=100_000)
    batch_size: int | None = Field(default=None, ge=1, le=1_000_000)
    weight: int | None = Field(default=None, ge=1, le=1000)
    metadata: dict[str, Any] | None = None


class DeploymentRead(BaseModel):
    id: uuid.UUID
    server_id: uuid.UUID
    server_name: str
    model_id: uuid.UUID
    model_name: str
    canonical_model: str  # `<server type>/<model_name>`, what the alias resolves to
    alias: str | None
    status: str
    desired_status: str
    context_length: int
    gpu_layers: int | None
    batch_size: int | None
    vram_usage_mb: int | None
    tokens_per_sec: float | None
    weight: int
    error_message: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    created_at: datetime
    metadata: dict[str, Any]


class DeploymentPage(BaseModel):
    items: list[DeploymentRead]
    next_cursor: str | None
