"""Settings read from UNILLM_* environment variables and a .env file.

Built by `get_settings()` (or passed to `create_app()` by tests), never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CounterBackend = Literal["auto", "memory", "database", "redis"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNILLM_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./data/unillm.db"
    redis_url: str | None = None
    secret_key: str | None = Field(default=None, repr=False)
    admin_key: str | None = Field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    quota_timezone: str = "UTC"

    # Where generated files live (the development secret key, the usage journal).
    data_dir: Path = Path("./data")
    # Which store holds the daily quota counters; "auto" picks Redis when configured, else the database.
    counter_backend: CounterBackend = "auto"
    # How many worker processes serve (set by `unillm serve --workers N` for its workers): with one
    # worker on SQLite, quota counters live in that process's memory (see access/quota/ledger.py).
    workers: int = Field(default=1, ge=1)
    # When the counter store is unreachable: refuse with 503 (default) or admit and mark the usage row.
    quota_fail_open: bool = False
    # Prefix of every Redis key unillm writes, so several deployments (or test runs) can share a Redis.
    redis_key_prefix: str = "unillm:"
    # How often a process reloads keys, rules and permissions changed by another process.
    snapshot_refresh_seconds: float = 5.0
    # How often the background checker probes model servers; 0 disables it.
    health_check_interval_seconds: float = 30.0
    max_request_body_bytes: int = 10 * 1024 * 1024
    # How long the gateway avoids a target after a connection error or a 5xx before the first byte.
    gateway_cooldown_seconds: float = 15.0
    log_level: str = "info"

    @field_validator("quota_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
            ) from exc
        return value

    @property
    def secret_keys(self) -> list[str]:
        """The encryption keys in order: the first encrypts, all decrypt."""
        if not self.secret_key:
            return []
        return [part.strip() for part in self.secret_key.split(",") if part.strip()]


def get_settings() -> Settings:
    return Settings()
