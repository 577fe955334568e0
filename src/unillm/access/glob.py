"""Matching `model_pattern` globs: `*` matches any run of characters (`/` included); every other
character is literal, so `_`, `%`, `?`, `[`, `\\` and `.` mean themselves.

The original system matched patterns with SQL `LIKE`, where `*` is literal and `_` a wildcard, so its
rules never matched as intended (SCHEMA.md, "Patterns are globs"). The hot path calls a matcher per
request, so the common shapes get the cheapest test: no `*` compares by equality, `prefix*` uses
`startswith`, `*suffix` uses `endswith`; only patterns with inner stars build a regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Matcher = Callable[[str], bool]

WILDCARD = "*"


def is_glob(pattern: str) -> bool:
    """True when the pattern has a wildcard, i.e. it can match more than one model id."""
    return WILDCARD in pattern


def _always(_model_id: str) -> bool:
    return True


@lru_cache(maxsize=8192)
def compile_glob(pattern: str) -> Matcher:
    """A function telling whether a model id matches `pattern` (memoized: a pure function of the pattern)."""
    if WILDCARD not in pattern:
        return pattern.__eq__
    pieces = pattern.split(WILDCARD)
    if all(piece == "" for piece in pieces):
        return _always
    inner = pieces[1:-1]
    if not any(inner):
        head, tail = pieces[0], pieces[-1]
        if not tail:
            return lambda model_id: model_id.startswith(head)
        if not head:
            return lambda model_id: model_id.endswith(tail)
        minimum = len(head) + len(tail)
        return lambda model_id: (len(model_id) >= minimum and model_id.startswith(head)
                                 and model_id.endswith(tail))
    regex = re.compile(".*".join(re.escape(piece) for piece in pieces), re.DOTALL)
    return lambda model_id: regex.fullmatch(model_id) is not None


def glob_matches(pattern: str, model_id: str) -> bool:
    return compile_glob(pattern)(model_id)
