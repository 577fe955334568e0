"""The tier-rule seed of SCHEMA.md: 50 rules over five tiers (trial 6, free 4, starter 11,
professional 16, enterprise 13). Each row: pattern, allowed, max_requests_per_day (None = unlimited),
max_context_length (None = no limit), priority.
"""

from __future__ import annotations

from typing import NamedTuple


class SeedRule(NamedTuple):
    model_pattern: str
    allowed: bool
    max_requests_per_day: int | None
    max_context_length: int | None
    priority: int


def _unlimited(pattern: str, priority: int) -> SeedRule:
    return SeedRule(pattern, True, None, None, priority)


SEED_TIER_RULES: dict[str, tuple[SeedRule, ...]] = {
    "trial": (
        SeedRule("ollama/*", True, 100, 2048, 100),
        SeedRule("openrouter/free/*", True, 100, 4096, 90),
        SeedRule("openrouter/meta-llama/llama-3-8b-instruct", True, 100, 8192, 90),
        SeedRule("openrouter/mistralai/mistral-7b-instruct", True, 100, 8192, 90),
        SeedRule("groq/*", True, 100, 8192, 85),
        SeedRule("*", False, 0, 0, 0),
    ),
    "free": (
        SeedRule("ollama/*", True, 50, 2048, 100),
        SeedRule("openrouter/free/*", True, 50, 4096, 90),
        SeedRule("groq/*", True, 50, 8192, 85),
        SeedRule("*", False, 0, 0, 0),
    ),
    "starter": (
        SeedRule("ollama/*", True, 200, 4096, 100),
        SeedRule("openrouter/free/*", True, 200, 8192, 95),
        SeedRule("groq/*", True, 200, 8192, 90),
        SeedRule("openrouter/google/gemini-pro", True, 50, 32768, 85),
        SeedRule("openrouter/meta-llama/llama-3-70b-instruct", True, 50, 8192, 85),
        SeedRule("openrouter/mistralai/mixtral-8x7b-instruct", True, 50, 32768, 85),
        SeedRule("together/*", True, 100, 8192, 80),
        SeedRule("cohere/command", True, 50, 4096, 75),
        SeedRule("openai/gpt-4*", False, 0, 0, 10),
        SeedRule("anthropic/claude*", False, 0, 0, 10),
        SeedRule("*", False, 0, 0, 0),
    ),
    "professional": (
        SeedRule("ollama/*", True, None, 8192, 100),
        SeedRule("openrouter/*", True, None, 200000, 95),
        SeedRule("groq/*", True, None, 8192, 90),
        SeedRule("together/*", True, None, 32768, 85),
        SeedRule("cohere/*", True, None, 8192, 80),
        SeedRule("openai/gpt-4o", True, 500, 128000, 75),
        SeedRule("openai/gpt-4-turbo", True, 500, 128000, 75),
        SeedRule("openai/gpt-4", True, 300, 8192, 75),
        SeedRule("openai/gpt-3.5-turbo", True, 1000, 16384, 70),
        SeedRule("anthropic/claude-3-5-sonnet", True, 500, 200000, 75),
        SeedRule("anthropic/claude-3-opus", True, 300, 200000, 75),
        SeedRule("anthropic/claude-3-sonnet", True, 500, 200000, 70),
        SeedRule("anthropic/claude-3-haiku", True, 1000, 200000, 65),
        SeedRule("google/gemini-pro-1.5", True, 500, 1000000, 70),
        SeedRule("custom/*", False, 0, 0, 10),
        SeedRule("*", True, 100, 8192, 5),
    ),
    "enterprise": (
        _unlimited("*", 100),
        _unlimited("custom/*", 95),
        *(_unlimited(f"{ns}/*", 90)
          for ns in ("openai", "anthropic", "google", "openrouter", "together", "cohere", "groq")),
        *(_unlimited(f"{ns}/*", 85) for ns in ("ollama", "vllm", "lmstudio", "llamacpp")),
    ),
}

EXPECTED_COUNTS = {"trial": 6, "free": 4, "starter": 11, "professional": 16, "enterprise": 13}
