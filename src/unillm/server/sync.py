"""Bring `installed_models` in line with what a server reports: add new models, update changed ones,
mark vanished ones `gone` (never delete: usage history and deployments keep pointing at them) and
bring a returning model back to `present`.

`plan_sync` is the pure decision; `apply_sync` writes it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.db.types import utcnow
from unillm.server.adapters import DiscoveredModel
from unillm.server.models import InstalledModel, ModelServer

TRACKED_FIELDS = ("size_bytes", "digest", "quantization", "family", "context_length")


@dataclass
class SyncPlan:
    added: list[DiscoveredModel] = field(default_factory=list)
    updated: list[tuple[InstalledModel, DiscoveredModel]] = field(default_factory=list)
    returned: list[tuple[InstalledModel, DiscoveredModel]] = field(default_factory=list)
    gone: list[InstalledModel] = field(default_factory=list)
    unchanged: int = 0


def _changed(row: InstalledModel, seen: DiscoveredModel) -> bool:
    # A server that stops reporting a field (None) is not a change worth recording.
    return any(
        getattr(seen, name) is not None and getattr(seen, name) != getattr(row, name)
        for name in TRACKED_FIELDS
    )


def plan_sync(rows: list[InstalledModel], discovered: list[DiscoveredModel]) -> SyncPlan:
    plan = SyncPlan()
    by_name = {row.model_name: row for row in rows if row.version == ""}
    seen_names = set()
    for model in discovered:
        if model.name in seen_names:
            continue
        seen_names.add(model.name)
        row = by_name.get(model.name)
        if row is None:
            plan.added.append(model)
        elif row.status == "gone":
            plan.returned.append((row, model))
        elif _changed(row, model):
            plan.updated.append((row, model))
        else:
            plan.unchanged += 1
    plan.gone = [row for name, row in by_name.items() if name not in seen_names and row.status != "gone"]
    return plan


def _copy(row: InstalledModel, seen: DiscoveredModel) -> None:
    for name in TRACKED_FIELDS:
        value = getattr(seen, name)
        if value is not None:
            setattr(row, name, value)


async def apply_sync(
    *, session: AsyncSession, server: ModelServer, discovered: list[DiscoveredModel]
) -> SyncPlan:
    rows = list(await session.scalars(select(InstalledModel).where(InstalledModel.server_id == server.id)))
    plan = plan_sync(rows, discovered)
    now = utcnow()
    for model in plan.added:
        session.add(
            InstalledModel(
                server_id=server.id,
                model_name=model.name,
                size_bytes=model.size_bytes,
                digest=model.digest,
                quantization=model.quantization,
                family=model.family,
                context_length=model.context_length,
                version="",
                status="present",
                installed_at=now,
                metadata_={},
            )
        )
    for row, model in plan.updated:
        _copy(row, model)
    for row, model in plan.returned:
        _copy(row, model)
        row.status = "present"
        row.gone_at = None
    for row in plan.gone:
        row.status = "gone"
        row.gone_at = now
    await session.flush()
    return plan
