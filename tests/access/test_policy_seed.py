"""SCHEMA.md's "What follows from them": each line, against the seeded tier rules."""

from __future__ import annotations

import pytest

from unillm.access.policy import AccessPolicy, RuleSpec, Subject
from unillm.access.seed_data import SEED_TIER_RULES


@pytest.fixture(scope="module")
def seeded() -> AccessPolicy:
    return AccessPolicy.build(
        (RuleSpec(id=f"{tier}:{r.model_pattern}", tier_code=tier, model_pattern=r.model_pattern,
                  allowed=r.allowed, max_requests_per_day=r.max_requests_per_day,
                  max_context_length=r.max_context_length, priority=r.priority)
         for tier, rules in SEED_TIER_RULES.items() for r in rules),
        (),
    )


def subject(tier: str) -> Subject:
    return Subject(user_id=f"someone-{tier}", role="user", tier_code=tier)


def test_trial_may_not_use_gpt_4(seeded: AccessPolicy) -> None:
    decision = seeded.decide(subject("trial"), "openai/gpt-4")
    assert not decision.allowed
    assert decision.message == "tier 'trial' rule '*' (priority 0) denies openai/gpt-4"


def test_professional_may_use_gpt_4_three_hundred_a_day(seeded: AccessPolicy) -> None:
    decision = seeded.decide(subject("professional"), "openai/gpt-4")
    assert decision.allowed and decision.max_requests_per_day == 300 and decision.max_context_length == 8192
    assert decision.quota_key == "professional:openai/gpt-4"


def test_trial_may_use_ollama_llama3_a_hundred_a_day(seeded: AccessPolicy) -> None:
    decision = seeded.decide(subject("trial"), "ollama/llama3")
    assert decision.allowed and decision.max_requests_per_day == 100 and decision.max_context_length == 2048


def test_starter_may_not_use_gpt_4o(seeded: AccessPolicy) -> None:
    decision = seeded.decide(subject("starter"), "openai/gpt-4o")
    assert not decision.allowed
    assert decision.message == "tier 'starter' rule 'openai/gpt-4*' (priority 10) denies openai/gpt-4o"


def test_professional_may_not_use_custom_models(seeded: AccessPolicy) -> None:
    decision = seeded.decide(subject("professional"), "custom/anything")
    assert not decision.allowed and decision.rule is not None and decision.rule.pattern == "custom/*"


@pytest.mark.parametrize("model", ["openai/gpt-4", "openai/gpt-4o", "custom/anything", "ollama/llama3",
                                   "anthropic/claude-3-opus", "openrouter/meta-llama/llama-3-8b-instruct",
                                   "vllm/x", "llamacpp/y", "somewhere/else", "x"])
def test_enterprise_may_use_everything_without_limit(seeded: AccessPolicy, model: str) -> None:
    decision = seeded.decide(subject("enterprise"), model)
    assert decision.allowed and decision.max_requests_per_day is None and decision.max_context_length is None
    assert decision.quota_key is None


def test_more_seed_consequences(seeded: AccessPolicy) -> None:
    assert seeded.decide(subject("free"), "groq/llama3-8b").max_requests_per_day == 50
    assert not seeded.decide(subject("free"), "openrouter/meta-llama/llama-3-8b-instruct").allowed
    llama = seeded.decide(subject("trial"), "openrouter/meta-llama/llama-3-8b-instruct")
    assert llama.max_context_length == 8192
    assert not seeded.decide(subject("starter"), "anthropic/claude-3-opus").allowed
    assert seeded.decide(subject("starter"), "ollama/llama3").max_requests_per_day == 200
    professional_other = seeded.decide(subject("professional"), "mistral/large")
    assert professional_other.allowed and professional_other.max_requests_per_day == 100
    assert seeded.decide(subject("professional"), "openrouter/x").max_requests_per_day is None
    assert not seeded.decide(subject("unknown-tier"), "ollama/llama3").allowed
