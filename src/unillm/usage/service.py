"""Pricing: the admin CRUD (audited, bumping the config version) and the gateway's price snapshot.

Why `load_defaults` only inserts missing prices: an operator's own price (a negotiated rate, a
correction) must never be overwritten by the bundled list, which is a starting point, not truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.audit import service as audit_service
from unillm.audit.schemas import AuditContext
from unillm.db.types import utcnow
from unillm.errors import NotFound
from unillm.usage.models import ModelPricing
from unillm.usage.pricing import Price
from unillm.usage.schemas import LoadDefaultsResult, PricingRead, PricingUpsert

RESOURCE = "model_pricing"


@dataclass(frozen=True, slots=True)
class DefaultPrice:
    model_id: str
    provider: str
    price: Price
    source: str
    as_of: date


def _snapshot(row: ModelPricing) -> dict[str, Any]:
    return PricingRead.model_validate(row).model_dump(mode="json", exclude={"last_updated"})


def _price_of(row: ModelPricing) -> Price:
    return Price(input_per_1k=row.input_price_per_1k, output_per_1k=row.output_price_per_1k,
                 cached_input_per_1k=row.cached_input_price_per_1k)


async def load_prices(*, session: AsyncSession) -> dict[str, Price]:
    """Every model's price, for the gateway's in-memory snapshot."""
    rows = await session.scalars(select(ModelPricing))
    return {row.model_id: _price_of(row) for row in rows}


async def list_(*, session: AsyncSession, provider: str | None = None) -> list[PricingRead]:
    statement = select(ModelPricing).order_by(ModelPricing.model_id)
    if provider is not None:
        statement = statement.where(ModelPricing.provider == provider)
    return [PricingRead.model_validate(row) for row in await session.scalars(statement)]


async def get_or_raise(*, session: AsyncSession, model_id: str) -> PricingRead:
    row = await session.get(ModelPricing, model_id)
    if row is None:
        raise NotFound(f"no price for model {model_id!r}")
    return PricingRead.model_validate(row)


async def upsert(*, session: AsyncSession, context: AuditContext, model_id: str,
                 data: PricingUpsert) -> PricingRead:
    """Create or replace one model's price (PUT semantics); one audit row either way."""
    row = await session.get(ModelPricing, model_id)
    before = _snapshot(row) if row is not None else None
    provider = data.provider if data.provider is not None else model_id.split("/", 1)[0]
    if row is None:
        row = ModelPricing(model_id=model_id)
        session.add(row)
    row.provider = provider
    row.input_price_per_1k = data.input_price_per_1k
    row.output_price_per_1k = data.output_price_per_1k
    row.cached_input_price_per_1k = data.cached_input_price_per_1k
    row.currency = data.currency
    row.source = data.source
    row.last_updated = utcnow()
    await session.flush()
    after = _snapshot(row)
    await audit_service.record(session=session, context=context,
                               action_type="pricing.update" if before else "pricing.create",
                               resource_type=RESOURCE, resource_id=model_id, before=before, after=after)
    return PricingRead.model_validate(row)


async def delete(*, session: AsyncSession, context: AuditContext, model_id: str) -> None:
    row = await session.get(ModelPricing, model_id)
    if row is None:
        raise NotFound(f"no price for model {model_id!r}")
    before = _snapshot(row)
    await session.delete(row)
    await session.flush()
    await audit_service.record(session=session, context=context, action_type="pricing.delete",
                               resource_type=RESOURCE, resource_id=model_id, before=before, after=None)


def default_prices() -> list[DefaultPrice]:
    """The bundled list (`default_prices.json`): public list prices with their source and date."""
    text = resources.files("unillm.usage").joinpath("default_prices.json").read_text("utf-8")
    document = json.loads(text)
    result = []
    for entry in document["prices"]:
        cached = entry.get("cached_input_per_1k")
        result.append(DefaultPrice(
            model_id=entry["model_id"], provider=entry["model_id"].split("/", 1)[0],
            price=Price(input_per_1k=Decimal(entry["input_per_1k"]),
                        output_per_1k=Decimal(entry["output_per_1k"]),
                        cached_input_per_1k=Decimal(cached) if cached is not None else None),
            source=entry.get("source", document["source"]),
            as_of=date.fromisoformat(entry.get("as_of", document["as_of"]))))
    return result


async def load_defaults(*, session: AsyncSession, context: AuditContext) -> LoadDefaultsResult:
    """Insert the bundled prices of models that have none; one audit row for the whole load."""
    existing = set(await session.scalars(select(ModelPricing.model_id)))
    inserted: list[str] = []
    skipped = 0
    for entry in default_prices():
        if entry.model_id in existing:
            skipped += 1
            continue
        session.add(ModelPricing(
            model_id=entry.model_id, provider=entry.provider, input_price_per_1k=entry.price.input_per_1k,
            output_price_per_1k=entry.price.output_per_1k,
            cached_input_price_per_1k=entry.price.cached_input_per_1k, currency="USD",
            source="default", last_updated=utcnow()))
        inserted.append(entry.model_id)
    if inserted:
        await session.flush()
        await audit_service.record(session=session, context=context, action_type="pricing.load_defaults",
                                   resource_type=RESOURCE, resource_id=None, before=None,
                                   after={"inserted": inserted})
    return LoadDefaultsResult(inserted=inserted, skipped=skipped)
