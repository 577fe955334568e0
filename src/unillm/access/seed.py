"""Applying the tier-rule seed: inserts the rules that are missing, never changes an existing one
(an operator's edit to a seeded rule survives `unillm db seed`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.access.models import TierModelRule
from unillm.access.seed_data import SEED_TIER_RULES
from unillm.audit.schemas import AuditContext


@dataclass(frozen=True)
class SeedResult:
    added: int
    already_present: int


async def apply_seed(*, session: AsyncSession, context: AuditContext | None = None) -> SeedResult:
    """With a `context` (the CLI), adding rules also writes one audit row in the same transaction."""
    existing = {
        (tier, pattern)
        for tier, pattern in (await session.execute(
            select(TierModelRule.tier_code, TierModelRule.model_pattern)
        )).all()
    }
    added = 0
    for tier_code, rules in SEED_TIER_RULES.items():
        for rule in rules:
            if (tier_code, rule.model_pattern) in existing:
                continue
            session.add(TierModelRule(tier_code=tier_code, **rule._asdict()))
            added += 1
    total = sum(len(rules) for rules in SEED_TIER_RULES.values())
    if context is not None and added > 0:
        from unillm.audit import service as audit_service

        await audit_service.record(session=session, context=context, action_type="tier_rules_seeded",
                                   resource_type="tier_rule", resource_id=None, extra={"count": added})
    return SeedResult(added=added, already_present=total - added)
