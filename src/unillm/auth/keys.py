"""API key secrets: how they are made, shown and stored. Pure, no I/O.

A secret is `ulm-` followed by 40 URL-safe random characters (240 bits). The database keeps only a
short display prefix and the SHA-256 hex digest of the whole secret. SHA-256 (not a slow password
hash) is right here because the secret is high-entropy random data: nobody can guess it faster than
brute-forcing 240 bits, and a fast hash lets every request be checked with one dict lookup.

Comparisons: the hot path looks the digest up in a dict, so no secret is ever compared character by
character (a dict probe compares digests of the attacker's input, which leaks nothing useful about
any stored secret). Where two secret-derived values must be compared, use `digests_match`, which is
constant-time; `tests/auth/test_no_secret_equality.py` rejects `==` on secret-like names.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "ulm-"
RANDOM_BYTES = 30  # token_urlsafe(30) is exactly 40 characters
DISPLAY_PREFIX_CHARS = 12
# A configured UNILLM_ADMIN_KEY shorter than this is refused: it would be guessable.
MIN_SUPPLIED_KEY_LENGTH = 24


def generate_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(RANDOM_BYTES)


def hash_secret(secret: str) -> str:
    """The stored form of a key: SHA-256 hex of the whole secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_prefix(secret: str) -> str:
    """The part shown in listings and audit rows so that people can tell keys apart.

    For generated keys that is `ulm-` plus 8 random characters (48 of 240 bits). An operator-supplied
    key may be short, so at most a quarter of it is shown.
    """
    if secret.startswith(KEY_PREFIX) and len(secret) >= len(KEY_PREFIX) + 40:
        return secret[:DISPLAY_PREFIX_CHARS]
    return secret[: min(DISPLAY_PREFIX_CHARS, len(secret) // 4)]


def digests_match(left: str, right: str) -> bool:
    """Constant-time comparison of two secret-derived strings."""
    return hmac.compare_digest(left.encode("utf-8"), right.encode("utf-8"))
