"""Credential encryption: rotation-friendly keys, the development key, clear wrong-key errors, hints."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from unillm.config import Settings
from unillm.errors import ConfigError
from unillm.provider.crypto import WRONG_KEY_MESSAGE, CredentialCipher, key_list, mask


def _settings(tmp_path: Path, secret_key: str | None) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", secret_key=secret_key,  # type: ignore[call-arg]
                    database_url=f"sqlite:///{tmp_path / 'x.db'}")


def test_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token_old = CredentialCipher([old]).encrypt("sk-secret-value-1")
    both = CredentialCipher([new, old])
    assert both.decrypt(token_old) == "sk-secret-value-1"
    rotated = both.rotate(token_old)
    assert CredentialCipher([new]).decrypt(rotated) == "sk-secret-value-1"
    with pytest.raises(ConfigError):
        CredentialCipher([old]).decrypt(rotated)


def test_wrong_key_is_a_clear_error_not_garbage() -> None:
    token = CredentialCipher([Fernet.generate_key().decode()]).encrypt("sk-secret-value-1")
    with pytest.raises(ConfigError) as caught:
        CredentialCipher([Fernet.generate_key().decode()]).decrypt(token)
    assert caught.value.message == WRONG_KEY_MESSAGE
    assert "sk-secret" not in str(caught.value)


def test_a_malformed_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a Fernet key"):
        CredentialCipher(["not-a-key"])


def test_settings_keys_are_split_on_commas(tmp_path: Path) -> None:
    a, b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    assert key_list(_settings(tmp_path, f"{a}, {b}")) == [a, b]
    assert not (tmp_path / "data" / "secret.key").exists()


def test_development_key_is_generated_once_with_mode_0600_and_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(tmp_path, None)
    with caplog.at_level(logging.WARNING, logger="unillm.provider"):
        first = key_list(settings)
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "development only" in caplog.text
    assert first[0] not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="unillm.provider"):
        assert key_list(settings) == first
    assert caplog.text == ""
    token = CredentialCipher.from_settings(settings).encrypt("sk-dev-secret-99")
    assert CredentialCipher.from_settings(settings).decrypt(token) == "sk-dev-secret-99"


@pytest.mark.parametrize(("secret", "hint"), [
    ("sk-proj-abcdefghijklmnop", "sk-…mnop"),
    ("sk-canary-DO-NOT-LEAK-1234", "sk-…1234"),
    ("short", "****"),
    ("elevenchars", "****"),
])
def test_mask(secret: str, hint: str) -> None:
    assert mask(secret) == hint
