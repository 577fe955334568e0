"""Encryption of provider credentials at rest: MultiFernet over UNILLM_SECRET_KEY, and masked hints.

The first key encrypts, every key decrypts, so a new key can be put in front and `unillm secrets
rotate` re-encrypts the stored credentials at leisure. Without a configured key a development key
is generated once into the data directory (and reused), so a fresh checkout works; that is loudly
marked as development only because whoever reads the data directory can read every credential.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from unillm.config import Settings
from unillm.errors import ConfigError

logger = logging.getLogger("unillm.provider")

DEV_KEY_FILE = "secret.key"
WRONG_KEY_MESSAGE = ("provider credential cannot be decrypted with UNILLM_SECRET_KEY: "
                     "the key that encrypted it is not in the list")


def _dev_key(data_dir: Path) -> str:
    """Read, or create once with mode 0600, the development key in the data directory."""
    path = data_dir / DEV_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first; use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    logger.warning("UNILLM_SECRET_KEY is not set: generated a key into %s for provider credentials "
                   "(development only; set UNILLM_SECRET_KEY in production)", path)
    return key


def key_list(settings: Settings) -> list[str]:
    """The keys in order (first encrypts); the development key when none is configured."""
    keys = settings.secret_keys
    if keys:
        return keys
    return [_dev_key(Path(settings.data_dir))]


class CredentialCipher:
    """Encrypts and decrypts provider credentials with the configured keys."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigError("no encryption key: set UNILLM_SECRET_KEY")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "UNILLM_SECRET_KEY holds a key that is not a Fernet key (32 url-safe base64 bytes); "
                "make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> CredentialCipher:
        return cls(key_list(settings))

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError(WRONG_KEY_MESSAGE) from exc

    def rotate(self, token: str) -> str:
        """The same secret re-encrypted under the first key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError(WRONG_KEY_MESSAGE) from exc


def mask(secret: str) -> str:
    """A hint that identifies a credential without revealing it: `sk-…abcd`; short ones fully masked."""
    if len(secret) < 12:
        return "****"
    return f"{secret[:3]}…{secret[-4:]}"
