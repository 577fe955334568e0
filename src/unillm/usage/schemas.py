"""Shapes of the pricing and usage admin API. Money is a Decimal, serialised as a string in JSON
so no client float rounds it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from unillm.usage.pricing import money_str

MoneyStr = Annotated[Decimal, PlainSerializer(money_str, return_type=str, when_used="json")]
PricePer1k = Annotated[Decimal, Field(ge=0, le=Decimal("100000"), max_digits=20, decimal_places=9)]
GroupBy = Literal["day", "user", "model", "provider", "tier", "source"]
UsageStatus = Literal["success", "error", "cancelled"]
FILTER_PATTERN = r"^[^\x00-\x1f\x7f]*$"


def _currency(value: str) -> str:
    if value != "USD":
        raise ValueError("only USD prices are supported")
    return value


class PricingUpsert(BaseModel):
    """The body of `PUT /api/v1/pricing/{model_id}` (the model id comes from the path)."""

    model_config = ConfigDict(extra="forbid")

    provider: Annotated[str, Field(max_length=100, pattern=FILTER_PATTERN)] | None = None
    input_price_per_1k: PricePer1k
    output_price_per_1k: PricePer1k
    cached_input_price_per_1k: PricePer1k | None = None
    currency: Annotated[str, AfterValidator(_currency)] = "USD"
    source: Annotated[str, Field(min_length=1, max_length=50, pattern=FILTER_PATTERN)] = "manual"


class PricingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    model_id: str
    provider: str | None
    input_price_per_1k: MoneyStr
    output_price_per_1k: MoneyStr
    cached_input_price_per_1k: MoneyStr | None
    currency: str
    last_updated: datetime
    source: str


class LoadDefaultsResult(BaseModel):
    inserted: list[str]
    skipped: int


class UsageLogRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: str
    timestamp: datetime
    user_id: str | None
    api_key_id: uuid.UUID | None
    tier_code: str | None
    model_id: str
    provider: str | None
    server_id: uuid.UUID | None
    deployment_id: uuid.UUID | None
    source: str | None
    prompt_tokens: int
    cached_prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    usage_estimated: bool
    cost_usd: MoneyStr | None
    input_price_per_1k: MoneyStr | None
    output_price_per_1k: MoneyStr | None
    cached_input_price_per_1k: MoneyStr | None
    latency_ms: int | None
    time_to_first_token_ms: int | None
    status: str
    status_code: int | None
    error_message: str | None
    metadata: dict[str, Any] = Field(validation_alias="metadata_")


class UsageLogPage(BaseModel):
    items: list[UsageLogRead]
    next_cursor: str | None


class UsageFilters(BaseModel):
    user_id: str | None = None
    model_id: str | None = None
    provider: str | None = None
    status: UsageStatus | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class SummaryGroup(BaseModel):
    key: str
    cost_usd: MoneyStr
    requests: int
    tokens: int
    unpriced_requests: int
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    error_requests: int = 0


class UsageSummary(BaseModel):
    """Totals per group; `unpriced_requests` counts requests whose cost is unknown (not $0)."""

    from_date: date
    to_date: date
    group_by: GroupBy
    groups: list[SummaryGroup]
    total: SummaryGroup
