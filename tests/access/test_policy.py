"""The access decision: precedence of permissions and tier rules, limits, messages, memoization."""

from __future__ import annotations

import pytest

from unillm.access import policy as policy_module
from unillm.access.policy import AccessPolicy, Decision, PermissionSpec, RuleSpec, Subject

ALICE = Subject(user_id="alice", role="user", tier_code="starter")
AGENT = Subject(user_id="alice", role="user", tier_code="starter", agent_id="bot-1")


def rule(pattern: str, allowed: bool = True, priority: int = 0, per_day: int | None = None,
         context: int | None = None, tier: str = "starter", id: str | None = None) -> RuleSpec:
    return RuleSpec(id=id or f"{tier}:{pattern}:{priority}:{allowed}", tier_code=tier, model_pattern=pattern,
                    allowed=allowed, max_requests_per_day=per_day, max_context_length=context,
                    priority=priority)


def perm(model_id: str, access_type: str, access_value: str, allowed: bool = True,
         id: str | None = None) -> PermissionSpec:
    return PermissionSpec(id=id or f"{access_type}:{access_value}:{model_id}:{allowed}", model_id=model_id,
                          access_type=access_type, access_value=access_value, allowed=allowed)


def decide(rules: list[RuleSpec], permissions: list[PermissionSpec], model: str,
           subject: Subject = ALICE) -> Decision:
    return AccessPolicy.build(rules, permissions).decide(subject, model)


# --- tier rules -----------------------------------------------------------------------------------

def test_nothing_matches_is_denied_with_a_message_naming_the_tier() -> None:
    decision = decide([rule("ollama/*")], [], "openai/gpt-4o")
    assert not decision.allowed and decision.rule is None and decision.quota_key is None
    assert decision.message == "no rule or permission of tier 'starter' matches openai/gpt-4o"


def test_no_rules_at_all_is_denied() -> None:
    assert not decide([], [], "openai/gpt-4o").allowed


def test_highest_priority_wins_either_way() -> None:
    rules = [rule("*", True, 0, 5, 100), rule("openai/gpt-4*", False, 10)]
    denied = decide(rules, [], "openai/gpt-4o")
    assert not denied.allowed and denied.rule is not None and denied.rule.pattern == "openai/gpt-4*"
    assert denied.message == "tier 'starter' rule 'openai/gpt-4*' (priority 10) denies openai/gpt-4o"
    allowed = decide(rules, [], "openai/gpt-3.5-turbo")
    assert allowed.allowed and allowed.max_requests_per_day == 5 and allowed.max_context_length == 100
    assert allowed.message == "tier 'starter' rule '*' (priority 0) allows openai/gpt-3.5-turbo"
    lower_deny = decide([rule("*", False, 0), rule("openai/*", True, 1, 7)], [], "openai/x")
    assert lower_deny.allowed and lower_deny.max_requests_per_day == 7


def test_equal_priority_deny_wins_whatever_the_order() -> None:
    first = [rule("openai/*", True, 5), rule("openai/gpt-4*", False, 5)]
    for rules in (first, list(reversed(first))):
        decision = decide(rules, [], "openai/gpt-4o")
        assert not decision.allowed and decision.rule is not None and decision.rule.pattern == "openai/gpt-4*"


def test_rules_of_other_tiers_do_not_apply() -> None:
    rules = [rule("*", True, 0, tier="enterprise"), rule("*", False, 0, tier="starter")]
    assert not decide(rules, [], "openai/gpt-4o").allowed
    assert decide(rules, [], "openai/gpt-4o", Subject("bob", "user", "enterprise")).allowed


def test_quota_key_is_the_admitting_rule_and_none_when_unlimited() -> None:
    limited = decide([rule("ollama/*", per_day=10, id="r1")], [], "ollama/llama3")
    assert limited.quota_key == "r1" and limited.rule is not None and limited.rule.kind == "tier_rule"
    assert limited.rule.priority == 0 and limited.limits_source == "tier rule 'ollama/*'"
    unlimited = decide([rule("ollama/*", per_day=None, id="r2")], [], "ollama/llama3")
    assert unlimited.quota_key is None and unlimited.allowed


def test_a_denied_decision_carries_no_limits() -> None:
    decision = decide([rule("*", False, 0, 0, 0)], [], "x/y")
    assert decision.max_requests_per_day is None and decision.max_context_length is None
    assert decision.quota_key is None


def test_glob_characters_other_than_star_are_literal_in_rules() -> None:
    rules = [rule("openai/gpt_4", True, 1), rule("*", False, 0)]
    assert not decide(rules, [], "openai/gpt-4").allowed
    assert decide(rules, [], "openai/gpt_4").allowed


# --- permissions ----------------------------------------------------------------------------------

def test_permission_beats_tier_rule_both_ways() -> None:
    rules = [rule("*", False, 0), rule("ollama/*", True, 100, 50, 2048)]
    granted = decide(rules, [perm("openai/gpt-4o", "user", "alice")], "openai/gpt-4o")
    assert granted.allowed and granted.rule is not None and granted.rule.kind == "permission"
    assert granted.rule.access_type == "user" and granted.rule.access_value == "alice"
    assert granted.rule.priority is None
    revoked = decide(rules, [perm("ollama/*", "user", "alice", False)], "ollama/llama3")
    assert not revoked.allowed
    assert revoked.message == "permission for user 'alice' on 'ollama/*' denies ollama/llama3"


@pytest.mark.parametrize(("specific", "general"), [
    ("user", "agent"), ("user", "role"), ("user", "tier"), ("agent", "role"), ("agent", "tier"),
    ("role", "tier"),
])
@pytest.mark.parametrize("specific_allows", [True, False])
def test_more_specific_subject_wins(specific: str, general: str, specific_allows: bool) -> None:
    values = {"user": "alice", "agent": "bot-1", "role": "user", "tier": "starter"}
    permissions = [perm("m/x", specific, values[specific], specific_allows),
                   perm("m/*", general, values[general], not specific_allows)]
    decision = decide([rule("*", True, 0)], permissions, "m/x", AGENT)
    assert decision.allowed is specific_allows
    assert decision.rule is not None and decision.rule.access_type == specific


def test_each_subject_level_applies_only_to_its_own_subject() -> None:
    permissions = [perm("m/x", "user", "bob"), perm("m/x", "agent", "bot-2"), perm("m/x", "role", "admin"),
                   perm("m/x", "tier", "enterprise")]
    decision = decide([rule("*", False, 0)], permissions, "m/x", AGENT)
    assert not decision.allowed and decision.rule is not None and decision.rule.kind == "tier_rule"
    assert decide([], [perm("m/x", "agent", "bot-1")], "m/x", AGENT).allowed
    assert not decide([], [perm("m/x", "agent", "bot-1")], "m/x", ALICE).allowed
    assert decide([], [perm("m/x", "role", "user")], "m/x").allowed
    assert decide([], [perm("m/x", "tier", "starter")], "m/x").allowed


def test_within_one_level_exact_beats_glob_then_deny_wins() -> None:
    exact_allow = [perm("m/x", "user", "alice", True), perm("m/*", "user", "alice", False)]
    assert decide([], exact_allow, "m/x").allowed
    exact_deny = [perm("m/x", "user", "alice", False), perm("m/*", "user", "alice", True)]
    assert not decide([], exact_deny, "m/x").allowed
    two_globs = [perm("m/*", "user", "alice", True), perm("*x", "user", "alice", False)]
    for permissions in (two_globs, list(reversed(two_globs))):
        decision = decide([], permissions, "m/x")
        assert not decision.allowed and decision.rule is not None and decision.rule.pattern == "*x"
    assert decide([], two_globs, "m/y").allowed


def test_allowing_permission_takes_limits_of_the_best_allowing_tier_rule() -> None:
    rules = [rule("custom/*", False, 10, id="deny"), rule("*", True, 5, 100, 8192, id="catch-all"),
             rule("custom/a*", True, 1, 7, 10, id="low")]
    decision = decide(rules, [perm("custom/abc", "user", "alice")], "custom/abc")
    assert decision.allowed and decision.max_requests_per_day == 100 and decision.max_context_length == 8192
    assert decision.quota_key == "catch-all"
    assert decision.rule is not None and decision.rule.kind == "permission"
    assert "limits of tier 'starter' rule '*' (priority 5)" in decision.message


def test_allowing_permission_without_an_allowing_tier_rule_is_unlimited() -> None:
    decision = decide([rule("*", False, 0, 0, 0)], [perm("openai/*", "role", "user")], "openai/gpt-4o")
    assert decision.allowed and decision.max_requests_per_day is None and decision.max_context_length is None
    assert decision.quota_key is None and decision.limits_rule is None
    assert "no limits" in decision.message


def test_duplicate_exact_permissions_deny_wins() -> None:
    permissions = [perm("m/x", "user", "alice", True, id="a"), perm("m/x", "user", "alice", False, id="b")]
    assert not decide([], permissions, "m/x").allowed
    assert not decide([], list(reversed(permissions)), "m/x").allowed


# --- the memo -------------------------------------------------------------------------------------

def test_memo_is_bounded_and_answers_stay_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_module, "CACHE_LIMIT", 8)
    built = AccessPolicy.build([rule("a/*", True, 1, 3), rule("*", False, 0)], [])
    for round_ in range(3):
        for index in range(20):
            model = f"a/m{index}" if index % 2 else f"b/m{index}"
            assert built.decide(ALICE, model).allowed is (index % 2 == 1), (round_, index)
    assert len(built._cache) <= 8


def test_ten_thousand_users_with_permissions() -> None:
    permissions = [perm(f"openai/gpt-{i % 7}*", "user", f"user-{i}", i % 3 != 0) for i in range(10_000)]
    built = AccessPolicy.build([rule("*", False, 0), rule("ollama/*", True, 100, 20)], permissions)
    for i in range(0, 10_000, 97):
        subject = Subject(user_id=f"user-{i}", role="user", tier_code="starter")
        assert built.decide(subject, f"openai/gpt-{i % 7}o").allowed is (i % 3 != 0)
        assert built.decide(subject, "ollama/llama3").max_requests_per_day == 20
        assert not built.decide(subject, "anthropic/claude").allowed
