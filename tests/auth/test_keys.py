"""Key secrets: format, stored digest, display prefix, constant-time comparison."""

from __future__ import annotations

import hashlib
import re

from unillm.auth import keys


def test_generated_secret_is_prefixed_and_40_urlsafe_random_characters() -> None:
    secrets_seen = {keys.generate_secret() for _ in range(200)}
    assert len(secrets_seen) == 200
    for secret in secrets_seen:
        assert re.fullmatch(r"ulm-[A-Za-z0-9_-]{40}", secret)


def test_hash_is_sha256_hex_of_the_whole_secret() -> None:
    secret = keys.generate_secret()
    assert keys.hash_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert keys.hash_secret(secret + "x") != keys.hash_secret(secret)


def test_display_prefix_shows_12_characters_of_a_generated_key_and_little_of_a_short_one() -> None:
    secret = keys.generate_secret()
    assert keys.display_prefix(secret) == secret[:12]
    assert keys.display_prefix("abcdefghijklmnopqrstuvwx") == "abcdef"
    assert keys.display_prefix("abc") == ""


def test_digests_match_is_exact() -> None:
    digest = keys.hash_secret("one")
    assert keys.digests_match(digest, keys.hash_secret("one"))
    assert not keys.digests_match(digest, keys.hash_secret("two"))
    assert not keys.digests_match(digest, digest[:-1])
