"""Applying the tier-rule seed: inserts the rules that are missing, never changes an existing one
(an operator's edit to a seeded rule survives `unillm db seed`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.access.models import TierModelRule
from unillm.access.seed_data import SEED_TIER_RULES


@dataclass(frozen=True)
class SeedResult:
    added: int
    already_present: int


async def apply_seed(*, session: AsyncSession) -> SeedResult:
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
    return SeedResult(added=added, already_present=total - added)
