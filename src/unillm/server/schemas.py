"""Model server and installed model schemas: `ModelServerCreate/Update/Read`, `InstalledModelRead`,
and what the health, sync and pull operations answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ServerType = Literal["ollama", "vllm", "lmstudio", "llamacpp"]
Location = Literal["local", "remote"]
HealthStatus = Literal["healthy", "degraded", "unhealthy", "unknown"]


def _check_host(value: str) -> str:
    value = value.strip()
    if not value or any(ch in value for ch in "/?#@ \t\r\n"):
        raise ValueError("host must be a bare host name or IP address (no scheme, path or port)")
    return value


class ModelServerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    type: ServerType
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    location: Location = "local"
    gpu_id: int | None = Field(default=None, ge=0, le=1024)
    auto_start: bool = False
    enabled: bool = True
    metadata: dict[str, Any] = Field(default_factory=dict)

    _host = field_validator("host")(_check_host)


class ModelServerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None, min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )
    host: str | None = Field(default=None, min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    location: Location | None = None
    gpu_id: int | None = Field(default=None, ge=0, le=1024)
    auto_start: bool | None = None
    enabled: bool | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        return None if value is None else _check_host(value)


class ModelServerRead(BaseModel):
    id: uuid.UUID
    name: str
    type: str
    location: str
    host: str
    port: int
    base_url: str
    gpu_id: int | None
    auto_start: bool
    enabled: bool
    health_status: str
    last_health_check: datetime | None
    health_latency_ms: float | None
    health_error: str | None
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]


class ModelServerPage(BaseModel):
    items: list[ModelServerRead]
    next_cursor: str | None


class InstalledModelRead(BaseModel):
    id: uuid.UUID
    server_id: uuid.UUID
    model_name: str
    model_id: str  # the canonical id the gateway routes: `<server type>/<model_name>`
    size_bytes: int | None
    quantization: str | None
    version: str
    family: str | None
    context_length: int | None
    digest: str | None
    status: str
    gone_at: datetime | None
    installed_at: datetime
    last_used: datetime | None


class HealthRead(BaseModel):
    server_id: uuid.UUID
    name: str
    status: str  # what was stored (after hysteresis for the background checker)
    observed: str  # what this probe saw
    latency_ms: float | None
    error: str | None
    checked_at: datetime


class SyncSummary(BaseModel):
    server_id: uuid.UUID
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    gone: list[str] = Field(default_factory=list)
    returned: list[str] = Field(default_factory=list)
    unchanged: int = 0


class PullRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=255)
