"""`model_pattern` globs: `*` is the only wildcard and crosses `/`; everything else is literal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unillm.access.glob import compile_glob, glob_matches, is_glob


def reference_match(pattern: str, text: str) -> bool:
    """A dynamic-programming glob matcher with only `*` special: the oracle for the fast one."""
    rows = len(pattern) + 1
    cols = len(text) + 1
    table = [[False] * cols for _ in range(rows)]
    table[0][0] = True
    for i in range(1, rows):
        if pattern[i - 1] == "*":
            table[i][0] = table[i - 1][0]
        for j in range(1, cols):
            if pattern[i - 1] == "*":
                table[i][j] = table[i - 1][j] or table[i][j - 1]
            else:
                table[i][j] = table[i - 1][j - 1] and pattern[i - 1] == text[j - 1]
    return table[-1][-1]


@pytest.mark.parametrize(("pattern", "model_id", "expected"), [
    ("ollama/*", "ollama/llama3", True),
    ("ollama/*", "ollama/", True),
    ("ollama/*", "ollamax/llama3", False),
    ("openrouter/*", "openrouter/meta-llama/llama-3-8b-instruct", True),
    ("openai/gpt-4*", "openai/gpt-4o", True),
    ("openai/gpt-4*", "openai/gpt-4", True),
    ("openai/gpt-4*", "openai/gpt-3.5-turbo", False),
    ("*", "", True),
    ("*", "anything/at/all", True),
    ("**", "x", True),
    ("openai/gpt-4", "openai/gpt-4", True),
    ("openai/gpt-4", "openai/gpt-4o", False),
    ("*/llama3", "ollama/llama3", True),
    ("*/llama3", "ollama/llama3.1", False),
    ("o*a/*3", "ollama/llama3", True),
    ("o*a/*3", "ollama/llama4", False),
    ("a*b*c", "abc", True),
    ("a*b*c", "ac", False),
    ("ab*ba", "aba", False),
    ("ab*ba", "abba", True),
    # Characters that are wildcards elsewhere are literal here.
    ("openai/gpt_4", "openai/gpt-4", False),
    ("openai/gpt_4", "openai/gpt_4", True),
    ("openai/%", "openai/gpt-4", False),
    ("openai/gpt-4?", "openai/gpt-4o", False),
    ("openai/gpt-4?", "openai/gpt-4?", True),
    ("openai/[g]*", "openai/gpt", False),
    ("openai/[g]*", "openai/[g]pt", True),
    ("a\\*", "a\\bc", True),
    ("a\\*", "a*", False),
    ("gpt.4*", "gpt-4o", False),
    ("x*y.z", "xANYy.z", True),
    ("x*y.z", "xANYyAz", False),
    ("*\n", "a\n", True),
    ("a*b", "a\nb", True),
])
def test_examples(pattern: str, model_id: str, expected: bool) -> None:
    assert glob_matches(pattern, model_id) is expected
    assert reference_match(pattern, model_id) is expected


def test_is_glob_and_matchers_are_cached() -> None:
    assert is_glob("ollama/*") and not is_glob("ollama/llama3")
    assert compile_glob("cached/*") is compile_glob("cached/*")


ALPHABET = st.sampled_from(list("ab/*._%?[]\\-"))
TEXT = st.text(alphabet=st.sampled_from(list("ab/._%?[]\\-*")), max_size=12)


@settings(max_examples=400, deadline=None)
@given(pattern=st.text(alphabet=ALPHABET, max_size=10), text=TEXT)
def test_agrees_with_reference(pattern: str, text: str) -> None:
    assert glob_matches(pattern, text) is reference_match(pattern, text)


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(st.text(alphabet=st.sampled_from(list("ab/._%?[]\\-")), max_size=4), min_size=1,
                       max_size=4),
       fillers=st.lists(st.text(max_size=5), min_size=4, max_size=4))
def test_star_matches_any_run_between_literal_pieces(pieces: list[str], fillers: list[str]) -> None:
    pattern = "*".join(pieces)
    text = "".join(p + (fillers[i] if i < len(pieces) - 1 else "") for i, p in enumerate(pieces))
    assert glob_matches(pattern, text)
