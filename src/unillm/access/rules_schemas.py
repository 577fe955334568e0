"""Shapes of the tier-rule and permission admin API (SCHEMA.md column names).

Bounds are checked here so bad input is a 422, never a database error: integers fit a 32-bit
column, text has no control characters (a CR/LF in a pattern would also corrupt logs).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from unillm.access.models import ACCESS_TYPES

INT32_MAX = 2**31 - 1
AccessType = Literal["user", "role", "tier", "agent"]
assert set(get_args(AccessType)) == set(ACCESS_TYPES)


def _plain(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters (CR, LF, NUL ...)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode") from exc
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value


TierCode = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_plain)]
Pattern = Annotated[str, Field(min_length=1, max_length=255,
                               description="A glob: `*` matches any run of characters, `/` included."),
                    AfterValidator(_plain)]
Text255 = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_plain)]
Limit = Annotated[int, Field(ge=0, le=INT32_MAX)]
Priority = Annotated[int, Field(ge=-INT32_MAX, le=INT32_MAX, description="Higher overrides lower.")]
# Query filters: same character rules, checked by a regex so FastAPI rejects them with a 422.
FILTER_PATTERN = r"^[^\x00-\x1f\x7f]*$"


class TierRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier_code: TierCode
    model_pattern: Pattern
    allowed: bool = True
    max_requests_per_day: Limit | None = Field(default=None, description="null = unlimited")
    max_context_length: Limit | None = Field(default=None, description="null = no limit")
    priority: Priority = 0


class TierRuleUpdate(BaseModel):
    """Fields left out stay as they are; null limits mean unlimited."""

    model_config = ConfigDict(extra="forbid")

    tier_code: TierCode | None = None
    model_pattern: Pattern | None = None
    allowed: bool | None = None
    max_requests_per_day: Limit | None = None
    max_context_length: Limit | None = None
    priority: Priority | None = None


class TierRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tier_code: str
    model_pattern: str
    allowed: bool
    max_requests_per_day: int | None
    max_context_length: int | None
    priority: int
    created_at: datetime
    updated_at: datetime


class TierRulePage(BaseModel):
    items: list[TierRuleRead]
    next_cursor: str | None


class PermissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: Pattern
    access_type: AccessType
    access_value: Text255
    allowed: bool = True


class PermissionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: uuid.UUID
    model_id: str
    access_type: str
    access_value: str
    allowed: bool
    created_at: datetime
    created_by: str | None


class PermissionPage(BaseModel):
    items: list[PermissionRead]
    next_cursor: str | None
