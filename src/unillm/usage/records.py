"""One usage row as the gateway hands it over, and its compact JSON line for the local journal.

Why a dataclass and not the ORM row: `submit()` runs on the hot path, so building a record must be
cheap and free of session state; the writer turns records into bulk INSERT values itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson

from unillm.usage.pricing import Price


@dataclass(frozen=True, slots=True)
class QuotaUnit:
    """A daily-quota unit the request holds, to be added to `quota_counters` when the row is written
    (set only when the counter lives in the gateway's memory: see access/quota/ledger.py)."""

    rule_key: str
    day: date


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    timestamp: datetime
    model_id: str
    user_id: str | None = None
    api_key_id: uuid.UUID | None = None
    tier_code: str | None = None
    provider: str | None = None
    server_id: uuid.UUID | None = None
    deployment_id: uuid.UUID | None = None
    source: str | None = None
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    usage_estimated: bool = False
    price: Price | None = None
    cost_usd: Decimal | None = None
    latency_ms: int | None = None
    time_to_first_token_ms: int | None = None
    status: str = "success"
    status_code: int | None = None
    error_message: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    quota_unit: QuotaUnit | None = None

    def to_row(self) -> dict[str, Any]:
        """The values of one `llm_usage_logs` INSERT (column keys, with the price frozen in)."""
        price = self.price
        return {
            "request_id": self.request_id, "timestamp": self.timestamp, "user_id": self.user_id,
            "api_key_id": self.api_key_id, "tier_code": self.tier_code, "model_id": self.model_id,
            "provider": self.provider, "server_id": self.server_id, "deployment_id": self.deployment_id,
            "source": self.source, "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "completion_tokens": self.completion_tokens, "total_tokens": self.total_tokens,
            "usage_estimated": self.usage_estimated, "cost_usd": self.cost_usd,
            "input_price_per_1k": price.input_per_1k if price else None,
            "output_price_per_1k": price.output_per_1k if price else None,
            "cached_input_price_per_1k": price.cached_input_per_1k if price else None,
            "latency_ms": self.latency_ms, "time_to_first_token_ms": self.time_to_first_token_ms,
            "status": self.status, "status_code": self.status_code,
            "error_message": self.error_message, "metadata": self.metadata,
        }

    def to_json_line(self) -> bytes:
        """One journal line (ends with a newline); Decimals as strings so no precision is lost."""
        price = self.price
        body: dict[str, Any] = {
            "r": self.request_id, "t": self.timestamp.astimezone(UTC).isoformat(), "m": self.model_id,
            "u": self.user_id, "k": _str(self.api_key_id), "tc": self.tier_code, "p": self.provider,
            "s": _str(self.server_id), "d": _str(self.deployment_id), "src": self.source,
            "pt": self.prompt_tokens, "cpt": self.cached_prompt_tokens, "ct": self.completion_tokens,
            "tt": self.total_tokens, "e": self.usage_estimated,
            "pr": None if price is None else [str(price.input_per_1k), str(price.output_per_1k),
                                              _str(price.cached_input_per_1k)],
            "c": _str(self.cost_usd), "l": self.latency_ms, "f": self.time_to_first_token_ms,
            "st": self.status, "sc": self.status_code, "em": self.error_message, "md": self.metadata,
        }
        if self.quota_unit is not None:
            body["q"] = [self.quota_unit.rule_key, self.quota_unit.day.isoformat()]
        return orjson.dumps(body) + b"\n"

    @classmethod
    def from_json_line(cls, line: bytes) -> UsageRecord:
        """Parse a journal line; raises ValueError (orjson.JSONDecodeError) or KeyError on a bad line."""
        body = orjson.loads(line)
        raw_price = body["pr"]
        raw_unit = body.get("q")
        price = None if raw_price is None else Price(
            input_per_1k=Decimal(raw_price[0]), output_per_1k=Decimal(raw_price[1]),
            cached_input_per_1k=None if raw_price[2] is None else Decimal(raw_price[2]))
        return cls(
            request_id=body["r"], timestamp=datetime.fromisoformat(body["t"]), model_id=body["m"],
            user_id=body["u"], api_key_id=_uuid(body["k"]), tier_code=body["tc"], provider=body["p"],
            server_id=_uuid(body["s"]), deployment_id=_uuid(body["d"]), source=body["src"],
            prompt_tokens=body["pt"], cached_prompt_tokens=body["cpt"], completion_tokens=body["ct"],
            total_tokens=body["tt"], usage_estimated=body["e"], price=price,
            cost_usd=None if body["c"] is None else Decimal(body["c"]), latency_ms=body["l"],
            time_to_first_token_ms=body["f"], status=body["st"], status_code=body["sc"],
            error_message=body["em"], metadata=body["md"] or {},
            quota_unit=None if raw_unit is None else QuotaUnit(rule_key=raw_unit[0],
                                                               day=date.fromisoformat(raw_unit[1])),
        )


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def _uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)
