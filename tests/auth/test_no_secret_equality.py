"""A lint: no `==`/`!=` on secret-like values anywhere in src/unillm.

`==` on strings stops at the first differing character, so comparing a presented secret with a stored
one leaks, through timing, how much of it was right. Use `keys.digests_match` (hmac.compare_digest)
or a dict lookup by digest. The check is syntactic: a comparison is flagged when an operand's name
contains a secret-like word (key, secret, token, hash, digest, password) and does not end in a word
that makes it plainly not a secret (`key_id`, `token_count`, `hash_algorithm`…).

A comparison that is not a timing leak (a SQL expression: the database looks the digest up in a
unique index) is allowed with the marker comment `# eq-ok: <reason>` on its line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import unillm

SRC = Path(unillm.__file__).parent
SECRET_WORDS = {"key", "keys", "apikey", "secret", "secrets", "token", "tokens", "hash", "digest",
                "password", "passwd", "credential", "credentials"}
HARMLESS_LAST_WORDS = {"id", "ids", "type", "types", "kind", "name", "names", "count", "counts", "prefix",
                       "hint", "length", "len", "env", "var", "header", "headers", "column", "columns",
                       "index", "path", "file", "field", "fields", "source", "scope", "limit", "limits",
                       "tokens", "algorithm", "version", "budget", "at", "total", "usage", "encrypted",
                       "rule", "parts", "prefixes", "style", "format"}
# Identifiers that contain a secret-like word but are never secrets (tuples used as dict keys, etc.).
NOT_SECRETS = {"key", "cache_key", "sort_key", "quota_key", "dedupe_key", "row_key", "group_key", "keys",
               "rule_key",
               # the audit hash chain: public integrity data, not secrets
               "row_hash", "prev_hash", "previous_hash"}
MARKER = "# eq-ok:"


def _words(name: str) -> list[str]:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return [word for word in snake.split("_") if word]


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    return None


def looks_secret(node: ast.expr) -> bool:
    name = _name(node)
    if name is None or name in NOT_SECRETS:
        return False
    words = _words(name)
    return bool(words) and bool(SECRET_WORDS & set(words)) and words[-1] not in HARMLESS_LAST_WORDS


def _trivial(node: ast.expr) -> bool:
    """Comparing with None, a number, a bool or the empty string reveals nothing about a secret."""
    return isinstance(node, ast.Constant) and (node.value is None or node.value == ""
                                               or isinstance(node.value, bool | int | float))


def secret_comparisons(tree: ast.AST, source: str = "") -> list[tuple[int, str]]:
    lines = source.splitlines()
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        end = node.end_lineno or node.lineno
        if any(MARKER in line for line in lines[node.lineno - 1:end]):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
            if not isinstance(op, ast.Eq | ast.NotEq) or _trivial(left) or _trivial(right):
                continue
            if looks_secret(left) or looks_secret(right):
                found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_check_flags_secret_comparisons_and_spares_ids() -> None:
    flagged = secret_comparisons(ast.parse(
        "a = presented_secret == stored\nb = key_hash != other\nc = api_key == x\nd = self.token == t\n"))
    assert [line for line, _ in flagged] == [1, 2, 3, 4]
    spared_source = ("a = key_id == x\nb = api_key is None\nc = token_count == 3\nd = secret == ''\n"
                     "e = name == x\nf = ApiKey.key_hash == digest  # eq-ok: SQL\n")
    assert secret_comparisons(ast.parse(spared_source), spared_source) == []


def test_no_secret_is_compared_with_equality_in_src() -> None:
    offenders: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(SRC.parent)}:{line}: {text}"
                      for line, text in secret_comparisons(ast.parse(source, str(path)), source)]
    assert offenders == [], "compare secrets with keys.digests_match (hmac.compare_digest):\n" + "\n".join(
        offenders)
