"""Hypothesis: the fast, indexed, memoized policy agrees with a literal reading of SCHEMA.md."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.access.test_glob import reference_match
from unillm.access.policy import AccessPolicy, Decision, PermissionSpec, RuleSpec, Subject

MODELS = ["a/x", "a/y", "b/x", "b/x/z", "a_x"]
PATTERNS = ["*", "a/*", "a/x", "*x", "b/*", "a/y", "a_*", "b/x/z", "*/*"]
TIERS = ["t1", "t2"]
LEVELS = ("user", "agent", "role", "tier")

rules_strategy = st.lists(
    st.builds(lambda tier, pattern, allowed, per_day, context, priority: RuleSpec(
        id=f"{tier}|{pattern}", tier_code=tier, model_pattern=pattern, allowed=allowed,
        max_requests_per_day=per_day, max_context_length=context, priority=priority),
        st.sampled_from(TIERS), st.sampled_from(PATTERNS), st.booleans(),
        st.none() | st.integers(0, 50), st.none() | st.integers(0, 50), st.integers(-2, 3)),
    max_size=12, unique_by=lambda r: (r.tier_code, r.model_pattern))

VALUES = {"user": ["u1", "u2"], "agent": ["g1", "g2"], "role": ["r1", "r2"], "tier": TIERS}
permissions_strategy = st.lists(
    st.sampled_from(LEVELS).flatmap(lambda level: st.builds(
        lambda value, model, allowed: PermissionSpec(id=f"{level}|{value}|{model}", model_id=model,
                                                     access_type=level, access_value=value, allowed=allowed),
        st.sampled_from(VALUES[level]), st.sampled_from(PATTERNS + MODELS), st.booleans())),
    max_size=10, unique_by=lambda p: (p.model_id, p.access_type, p.access_value))

subjects = st.builds(Subject, user_id=st.sampled_from(["u1", "u2"]), role=st.sampled_from(["r1", "r2"]),
                     tier_code=st.sampled_from(TIERS), agent_id=st.none() | st.sampled_from(["g1", "g2"]))


def reference_permission(permissions: list[PermissionSpec], subject: Subject,
                         model: str) -> tuple[bool, set[str]] | None:
    """(allowed, ids that could have decided) of the first subject level with a matching permission."""
    for level, value in zip(LEVELS, (subject.user_id, subject.agent_id, subject.role, subject.tier_code),
                            strict=True):
        matching = [p for p in permissions if p.access_type == level and p.access_value == value
                    and reference_match(p.model_id, model)]
        if matching:
            exact = [p for p in matching if "*" not in p.model_id]
            group = exact or matching
            allowed = all(p.allowed for p in group)
            return allowed, {p.id for p in group if p.allowed is allowed}
    return None


def check_limits_of(decision: Decision, candidates: list[RuleSpec]) -> None:
    """The limits come from one of the highest-priority candidates, and quota_key names it."""
    if not candidates:
        assert decision.max_requests_per_day is None and decision.max_context_length is None
        assert decision.quota_key is None
        return
    top = max(r.priority for r in candidates)
    by_id = {r.id: r for r in candidates if r.priority == top}
    assert decision.limits_rule is not None and decision.limits_rule.id in by_id
    chosen = by_id[decision.limits_rule.id]
    assert decision.max_requests_per_day == chosen.max_requests_per_day
    assert decision.max_context_length == chosen.max_context_length
    assert decision.quota_key == (chosen.id if chosen.max_requests_per_day is not None else None)


@settings(max_examples=300, deadline=None)
@given(rules=rules_strategy, permissions=permissions_strategy, subject=subjects,
       model=st.sampled_from(MODELS))
def test_policy_agrees_with_the_reference(rules: list[RuleSpec], permissions: list[PermissionSpec],
                                          subject: Subject, model: str) -> None:
    policy = AccessPolicy.build(rules, permissions)
    decision = policy.decide(subject, model)
    assert policy.decide(subject, model) == decision  # the memo answers the same
    tier_matches = [r for r in rules
                    if r.tier_code == subject.tier_code and reference_match(r.model_pattern, model)]
    allowing = [r for r in tier_matches if r.allowed]
    by_permission = reference_permission(permissions, subject, model)
    if by_permission is not None:
        allowed, ids = by_permission
        assert decision.allowed is allowed
        assert decision.rule is not None and decision.rule.kind == "permission" and decision.rule.id in ids
        if allowed:
            check_limits_of(decision, allowing)
        else:
            assert decision.quota_key is None
        return
    if not tier_matches:
        assert not decision.allowed and decision.rule is None
        return
    top = max(r.priority for r in tier_matches)
    at_top = [r for r in tier_matches if r.priority == top]
    expected = all(r.allowed for r in at_top)
    assert decision.allowed is expected
    assert decision.rule is not None and decision.rule.kind == "tier_rule"
    assert decision.rule.id in {r.id for r in at_top if r.allowed is expected}
    assert decision.rule.priority == top and str(top) in decision.message
    if expected:
        check_limits_of(decision, at_top)
    else:
        assert decision.quota_key is None and decision.max_requests_per_day is None


@settings(max_examples=200, deadline=None)
@given(rules=rules_strategy, subject=subjects, model=st.sampled_from(MODELS))
def test_rule_order_does_not_change_the_decision(rules: list[RuleSpec], subject: Subject, model: str) -> None:
    forward = AccessPolicy.build(rules, []).decide(subject, model)
    backward = AccessPolicy.build(list(reversed(rules)), []).decide(subject, model)
    assert forward == backward
