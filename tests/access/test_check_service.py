"""Explaining decisions: `check_service.load_policy` and `check_service.check`."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from unillm.access import check_service
from unillm.access.models import TierModelRule
from unillm.access.policy import Subject
from unillm.access.quota.days import quota_day
from unillm.access.quota.memory import MemoryCounter
from unillm.db.types import utcnow
from unillm.errors import BadRequest, NotFound
from unillm.runtime import Runtime


async def test_load_policy_reads_the_seed_and_permissions(seeded_runtime: Runtime) -> None:
    async with seeded_runtime.sessions() as session:
        policy = await check_service.load_policy(session=session)
        rule_ids = {str(i) for i in (await session.execute(select(TierModelRule.id))).scalars()}
    assert policy.rule_count == 50 and set(policy.tiers()) == {"trial", "free", "starter", "professional",
                                                               "enterprise"}
    decision = policy.decide(Subject("trial-user", "user", "trial"), "openai/gpt-4o")
    assert decision.allowed and decision.rule is not None and decision.rule.kind == "permission"
    professional = policy.decide(Subject("x", "user", "professional"), "openai/gpt-4")
    assert professional.quota_key in rule_ids


async def test_check_for_a_tier(seeded_runtime: Runtime) -> None:
    async with seeded_runtime.sessions() as session:
        result = await check_service.check(session=session, model="  openai/gpt-4 ", tier="professional")
    assert result.allowed and result.model == "openai/gpt-4" and result.max_requests_per_day == 300
    assert result.rule is not None and result.rule.pattern == "openai/gpt-4" and result.rule.priority == 75
    assert result.user_id is None and result.remaining_today is None and result.tier == "professional"


async def test_check_for_a_user_reports_remaining_today(seeded_runtime: Runtime) -> None:
    counter = MemoryCounter()
    async with seeded_runtime.sessions() as session:
        first = await check_service.check(session=session, model="openai/gpt-4", user="pro-user",
                                          counter=counter)
        assert first.remaining_today == 300 and first.used_today == 0
        assert first.quota_day == quota_day(utcnow(), ZoneInfo("UTC")).isoformat()
        rule_key = first.limits_rule.id if first.limits_rule else ""
        for _ in range(3):
            await counter.reserve(user_id="pro-user", rule_key=rule_key,
                                  day=date.fromisoformat(first.quota_day or ""), limit=300)
        second = await check_service.check(session=session, model="openai/gpt-4", user="pro-user",
                                           counter=counter)
        unlimited = await check_service.check(session=session, model="openrouter/x", user="pro-user",
                                              counter=counter)
    assert second.remaining_today == 297 and second.used_today == 3
    assert (second.user_id, second.tier, second.role) == ("pro-user", "professional", "user")
    assert unlimited.allowed and unlimited.max_requests_per_day is None and unlimited.remaining_today is None


async def test_check_for_a_user_applies_their_permissions_and_disabled_flag(seeded_runtime: Runtime) -> None:
    async with seeded_runtime.sessions() as session:
        granted = await check_service.check(session=session, model="openai/gpt-4o", user="trial-user")
        disabled = await check_service.check(session=session, model="openai/gpt-4o", user="gone-user")
    assert granted.allowed and granted.rule is not None and granted.rule.kind == "permission"
    assert granted.rule.access_value == "trial-user" and granted.max_requests_per_day is None
    assert not disabled.allowed and disabled.disabled and "disabled" in disabled.message


BAD_INPUT: list[tuple[dict[str, str], type[Exception], str]] = [
    ({"model": "x/y", "user": "nobody"}, NotFound, "user 'nobody' does not exist"),
    ({"model": "   ", "tier": "trial"}, BadRequest, "model must not be empty"),
    ({"model": "x" * 256, "tier": "trial"}, BadRequest, "longer than 255"),
    ({"model": "x/y"}, BadRequest, "exactly one of tier or user"),
    ({"model": "x/y", "tier": "trial", "user": "pro-user"}, BadRequest, "exactly one of tier or user"),
]


async def test_check_refuses_bad_input(seeded_runtime: Runtime) -> None:
    async with seeded_runtime.sessions() as session:
        for kwargs, error, text in BAD_INPUT:
            with pytest.raises(error, match=text):
                await check_service.check(session=session, **kwargs)  # type: ignore[arg-type]
