"""Explaining an access decision: which rule or permission decides, with which limits, and (for a
user) how much of today's quota is left. Used by `GET /api/v1/access/check` and `unillm access check`.

`load_policy` is also how the hot-path snapshot builds its `AccessPolicy` from the database.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.access.models import ModelPermission, TierModelRule
from unillm.access.policy import AccessPolicy, Decision, PermissionSpec, RuleSpec, Subject
from unillm.access.quota.base import QuotaCounter
from unillm.access.quota.days import quota_day
from unillm.auth import models as auth_models
from unillm.db.types import utcnow
from unillm.errors import BadRequest, NotFound

MAX_MODEL_ID_LENGTH = 255


class DecidingRuleRead(BaseModel):
    kind: str
    id: str
    pattern: str
    priority: int | None
    access_type: str | None = None
    access_value: str | None = None


class AccessCheckRead(BaseModel):
    model: str
    allowed: bool
    max_requests_per_day: int | None
    max_context_length: int | None
    rule: DecidingRuleRead | None
    # The tier rule whose limits apply (differs from `rule` when a permission decided).
    limits_rule: DecidingRuleRead | None
    message: str
    tier: str
    role: str | None = None
    user_id: str | None = None
    disabled: bool | None = None
    quota_day: str | None = None
    used_today: int | None = None
    remaining_today: int | None = None


async def load_policy(*, session: AsyncSession) -> AccessPolicy:
    """Every tier rule and permission in the database, as one policy."""
    rules = (await session.execute(select(TierModelRule))).scalars().all()
    permissions = (await session.execute(select(ModelPermission))).scalars().all()
    return AccessPolicy.build(
        (RuleSpec(id=str(r.id), tier_code=r.tier_code, model_pattern=r.model_pattern, allowed=r.allowed,
                  max_requests_per_day=r.max_requests_per_day, max_context_length=r.max_context_length,
                  priority=r.priority) for r in rules),
        (PermissionSpec(id=str(p.id), model_id=p.model_id, access_type=p.access_type,
                        access_value=p.access_value, allowed=p.allowed) for p in permissions),
    )


def clean_model_id(model: str) -> str:
    model = model.strip()
    if not model:
        raise BadRequest("model must not be empty: give a model id such as 'openai/gpt-4o'", param="model")
    if len(model) > MAX_MODEL_ID_LENGTH:
        raise BadRequest(f"model id is longer than {MAX_MODEL_ID_LENGTH} characters", param="model")
    return model


def _read(decision: Decision, model: str, tier: str) -> AccessCheckRead:
    def rule(value: object) -> DecidingRuleRead | None:
        return None if value is None else DecidingRuleRead.model_validate(value, from_attributes=True)

    return AccessCheckRead(model=model, allowed=decision.allowed,
                           max_requests_per_day=decision.max_requests_per_day,
                           max_context_length=decision.max_context_length, rule=rule(decision.rule),
                           limits_rule=rule(decision.limits_rule), message=decision.message, tier=tier)


async def check(*, session: AsyncSession, model: str, tier: str | None = None, user: str | None = None,
                counter: QuotaCounter | None = None, quota_timezone: str = "UTC",
                now: datetime | None = None) -> AccessCheckRead:
    """Decide `model` for a tier, or for a user (with their role, permissions and today's quota)."""
    model = clean_model_id(model)
    tier = tier.strip() if tier else None
    user = user.strip() if user else None
    if bool(tier) == bool(user):
        raise BadRequest("give exactly one of tier or user", param="tier" if tier else "user")
    policy = await load_policy(session=session)
    if tier:
        # No user id or role: only the tier's permissions and rules can apply.
        return _read(policy.decide(Subject(user_id="", role="", tier_code=tier), model), model, tier)
    assert user is not None
    row = await session.get(auth_models.User, user)
    if row is None:
        raise NotFound(f"user '{user}' does not exist; `unillm keys create --user {user}` creates it")
    decision = policy.decide(Subject(user_id=row.id, role=row.role, tier_code=row.tier_code), model)
    result = _read(decision, model, row.tier_code)
    result.user_id, result.role, result.disabled = row.id, row.role, row.disabled
    if row.disabled and decision.allowed:
        result.allowed = False
        result.message = f"user '{row.id}' is disabled; otherwise: {decision.message}"
    limit, rule_key = decision.max_requests_per_day, decision.quota_key
    if counter is not None and limit is not None and rule_key is not None:
        day = quota_day(now or utcnow(), ZoneInfo(quota_timezone))
        used = await counter.used(user_id=row.id, rule_key=rule_key, day=day)
        result.quota_day = day.isoformat()
        result.used_today = used
        result.remaining_today = max(0, limit - used)
    return result
