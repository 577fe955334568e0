"""API shapes for users and API keys. A key's secret appears in exactly one shape, `ApiKeyCreated`,
returned once by the creation call; every other shape carries the display prefix only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

KeyKind = Literal["user", "service"]
KeyStatus = Literal["active", "revoked", "expired"]

NAME_PATTERN = r"^[A-Za-z0-9_.:@-]+$"
MAX_EXPIRES_DAYS = 36_500


def _printable(value: str) -> str:
    """Ids end up in headers, logs and audit rows: no control characters, no surrounding spaces."""
    if value != value.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters or leading/trailing spaces")
    return value


UserId = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_printable)]
TierCode = Annotated[str, Field(min_length=1, max_length=50, pattern=NAME_PATTERN)]
RoleName = Annotated[str, Field(min_length=1, max_length=50, pattern=NAME_PATTERN)]
AgentId = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_printable)]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tier_code: str
    role: str
    disabled: bool
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = Field(default_factory=dict, validation_alias="metadata_")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: UserId
    tier_code: TierCode = "free"
    role: RoleName = "user"
    disabled: bool = False


class UserUpdate(BaseModel):
    """Only the fields given change; all of the user's keys follow at once."""

    model_config = ConfigDict(extra="forbid")

    tier_code: TierCode | None = None
    role: RoleName | None = None
    disabled: bool | None = None


class UserPage(BaseModel):
    items: list[UserRead]
    next_cursor: str | None


class ApiKeyCreate(BaseModel):
    """Creating a key creates its user when new; `tier_code`/`role` given here update that user."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    tier_code: TierCode | None = None
    role: RoleName | None = None
    name: Annotated[str, Field(max_length=255)] | None = None
    expires_days: Annotated[int, Field(ge=1, le=MAX_EXPIRES_DAYS)] | None = None
    kind: KeyKind = "user"
    agent_id: AgentId | None = None


class ApiKeyRead(BaseModel):
    id: uuid.UUID
    prefix: str
    name: str | None
    user_id: str
    kind: str
    agent_id: str | None
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    status: KeyStatus


class ApiKeyCreated(ApiKeyRead):
    """The creation response: the only time the secret is shown."""

    key: str


class ApiKeyPage(BaseModel):
    items: list[ApiKeyRead]
    next_cursor: str | None
