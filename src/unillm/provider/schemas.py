"""Provider API shapes: create/update bodies use SCHEMA.md's column names plus the write-only
`api_key`; reads show only `api_key_hint`, so a credential never leaves the server once stored."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from unillm.provider.models import PROVIDER_TYPES

ProviderType = Literal["openrouter", "openai", "anthropic", "google", "cohere", "groq", "together",
                       "mistral", "custom"]
assert set(get_args(ProviderType)) == set(PROVIDER_TYPES)

# Where each type's API lives when `base_url` is unset (the gateway reads this table too). Google and
# Cohere are reached through their OpenAI-compatible endpoints.
DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "groq": "https://api.groq.com/openai/v1",
    "together": "https://api.together.xyz/v1",
    "mistral": "https://api.mistral.ai/v1",
    "google": "https://generativelanguage.googleapis.com/v1beta/openai",
    "cohere": "https://api.cohere.ai/compatibility/v1",
    "anthropic": "https://api.anthropic.com",
}

# Per-provider timeouts (seconds) live in `metadata`; the gateway passes them to its upstream calls.
TimeoutKey = Literal["connect_timeout", "first_byte_timeout", "total_timeout"]
TIMEOUT_KEYS: tuple[TimeoutKey, ...] = ("connect_timeout", "first_byte_timeout", "total_timeout")
MAX_TIMEOUT_SECONDS = 3600.0


def validate_base_url(value: str | None) -> str | None:
    """An absolute http(s) URL without whitespace or control characters (no header injection)."""
    if value is None:
        return None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value) or not value.isascii():
        raise ValueError("base_url must be ASCII without spaces, CR/LF or control characters")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("base_url must be an absolute http:// or https:// URL with a host")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError("base_url has an invalid port") from exc
    if parts.query or parts.fragment:
        raise ValueError("base_url must not carry a query string or fragment")
    return value.rstrip("/")


MAX_METADATA_DEPTH = 8


def _check_json(value: Any, depth: int = 0) -> None:
    """JSON that every backend stores: no NUL (PostgreSQL's JSONB refuses it), no lone surrogates,
    no NaN or infinity, bounded nesting."""
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("metadata strings must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("metadata strings must be valid Unicode") from exc
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("metadata numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(key, depth + 1)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def validate_metadata(value: dict[str, Any]) -> dict[str, Any]:
    _check_json(value)
    for key in TIMEOUT_KEYS:
        if key not in value or value[key] is None:
            continue
        seconds = value[key]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
            raise ValueError(f"metadata.{key} must be a number of seconds")
        if not 0 < seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"metadata.{key} must be > 0 and <= {MAX_TIMEOUT_SECONDS:g} seconds")
    return value


def plain_text(value: str) -> str:
    """Text safe for every backend and for logs: no control characters, valid Unicode."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters (CR, LF, NUL ...)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode") from exc
    return value


def _validate_name(value: str) -> str:
    value = plain_text(value).strip()
    if not value:
        raise ValueError("name must not be empty")
    return value


def _plain_secret(value: SecretStr) -> SecretStr:
    secret = value.get_secret_value()
    if not secret.strip() or not secret.isascii() or any(ord(ch) < 32 or ord(ch) == 127 for ch in secret):
        raise ValueError("api_key must be printable ASCII (it is sent in an HTTP header)")
    return value


Name = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_validate_name)]
BaseUrl = Annotated[str, Field(max_length=500), AfterValidator(validate_base_url)]
Metadata = Annotated[dict[str, Any], AfterValidator(validate_metadata)]
ApiKey = Annotated[SecretStr, Field(min_length=1, max_length=4096), AfterValidator(_plain_secret)]


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    type: ProviderType
    base_url: BaseUrl | None = Field(default=None,
                                     description="Required for type custom; defaults per type otherwise.")
    api_key: ApiKey | None = Field(default=None, description="Write-only; responses show api_key_hint.")
    enabled: bool = True
    metadata: Metadata = Field(
        default_factory=dict,
        description="Free-form; connect_timeout, first_byte_timeout, total_timeout (seconds) are used.")



class ProviderUpdate(BaseModel):
    """Fields left out stay as they are; `api_key: null` removes the stored credential."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    type: ProviderType | None = None
    base_url: BaseUrl | None = None
    api_key: ApiKey | None = None
    enabled: bool | None = None
    metadata: Metadata | None = None


class ProviderRead(BaseModel):
    id: uuid.UUID
    name: str
    type: str
    base_url: str | None
    effective_base_url: str | None = Field(description="base_url, or the type's default when unset.")
    api_key_hint: str | None
    enabled: bool
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    created_by: str | None


class ProviderPage(BaseModel):
    items: list[ProviderRead]
    next_cursor: str | None


class ProviderTestResult(BaseModel):
    ok: bool
    latency_ms: int | None
    models: list[str]
    error: str | None
