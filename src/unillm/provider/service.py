"""Cloud provider accounts: CRUD with encrypted credentials, the gateway's credential loader, and key
rotation. Callers own the transaction (routers and the CLI wrap each call in `session.begin()`), so
the change, its audit row and the config-version bump commit or roll back together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, TypedDict

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.audit import service as audit_service
from unillm.audit.schemas import AuditContext
from unillm.config import Settings
from unillm.errors import BadRequest, ConfigError, Conflict, NotFound
from unillm.pagination import fetch_offset_page, parse_offset_cursor
from unillm.provider.crypto import WRONG_KEY_MESSAGE, CredentialCipher, mask
from unillm.provider.models import LLMProvider
from unillm.provider.schemas import (
    DEFAULT_BASE_URLS,
    TIMEOUT_KEYS,
    ProviderCreate,
    ProviderPage,
    ProviderRead,
    ProviderUpdate,
)

RESOURCE = "provider"
MAX_PAGE = 500


class ProviderTimeouts(TypedDict, total=False):
    """Only the timeouts set in the provider's metadata; the gateway's defaults fill the rest."""

    connect_timeout: float
    first_byte_timeout: float
    total_timeout: float


@dataclass(frozen=True, slots=True)
class ProviderCredential:
    """What the gateway needs to call a provider; `api_key` is decrypted, so keep it in memory only."""

    id: uuid.UUID
    type: str
    base_url: str | None
    api_key: str | None = field(repr=False)
    enabled: bool
    timeouts: ProviderTimeouts


def effective_base_url(provider: LLMProvider) -> str | None:
    return provider.base_url or DEFAULT_BASE_URLS.get(provider.type)


def to_read(provider: LLMProvider) -> ProviderRead:
    return ProviderRead(
        id=provider.id, name=provider.name, type=provider.type, base_url=provider.base_url,
        effective_base_url=effective_base_url(provider), api_key_hint=provider.api_key_hint,
        enabled=provider.enabled, metadata=dict(provider.metadata_ or {}), created_at=provider.created_at,
        updated_at=provider.updated_at, created_by=provider.created_by,
    )


def audit_view(provider: LLMProvider) -> dict[str, Any]:
    """The audited image of a provider: the hint, never the credential or its ciphertext."""
    return {"id": str(provider.id), "name": provider.name, "type": provider.type,
            "base_url": provider.base_url, "enabled": provider.enabled,
            "metadata": dict(provider.metadata_ or {}), "api_key_hint": provider.api_key_hint}




async def list_(*, session: AsyncSession, limit: int = 100, cursor: str | None = None,
                type: str | None = None, enabled: bool | None = None) -> ProviderPage:
    offset = parse_offset_cursor(cursor)
    limit = max(1, min(limit, MAX_PAGE))
    query = select(LLMProvider).order_by(LLMProvider.name, LLMProvider.type, LLMProvider.id)
    if type is not None:
        query = query.where(LLMProvider.type == type)
    if enabled is not None:
        query = query.where(LLMProvider.enabled == enabled)
    rows, next_cursor = await fetch_offset_page(session, query, offset=offset, limit=limit)
    return ProviderPage(items=[to_read(row) for row in rows], next_cursor=next_cursor)


async def get_or_raise(*, session: AsyncSession, provider_id: uuid.UUID) -> LLMProvider:
    provider = await session.get(LLMProvider, provider_id)
    if provider is None:
        raise NotFound(f"provider {provider_id} not found")
    return provider


async def get_by_name(*, session: AsyncSession, name: str, type: str | None = None) -> LLMProvider:
    """The provider called NAME (the CLI's handle); ambiguous when several types share the name."""
    query = select(LLMProvider).where(LLMProvider.name == name)
    if type is not None:
        query = query.where(LLMProvider.type == type)
    rows = list((await session.scalars(query)).all())
    if not rows:
        raise NotFound(f"provider {name!r} not found")
    if len(rows) > 1:
        types = ", ".join(sorted(row.type for row in rows))
        raise Conflict(f"several providers are called {name!r} ({types}); give the type too")
    return rows[0]


async def _ensure_unique(session: AsyncSession, name: str, type_: str,
                         exclude: uuid.UUID | None = None) -> None:
    query = select(func.count()).select_from(LLMProvider).where(
        LLMProvider.name == name, LLMProvider.type == type_)
    if exclude is not None:
        query = query.where(LLMProvider.id != exclude)
    if await session.scalar(query):
        raise Conflict(f"a provider named {name!r} of type {type_!r} already exists")


def _require_base_url(type_: str, base_url: str | None) -> None:
    if type_ == "custom" and not base_url:
        raise BadRequest("a provider of type custom needs base_url", param="base_url")


async def _flush(session: AsyncSession, name: str, type_: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create won the race past _ensure_unique
        raise Conflict(f"a provider named {name!r} of type {type_!r} already exists") from exc


async def create(*, session: AsyncSession, settings: Settings, context: AuditContext,
                 data: ProviderCreate) -> ProviderRead:
    _require_base_url(data.type, data.base_url)
    await _ensure_unique(session, data.name, data.type)
    provider = LLMProvider(id=uuid.uuid4(), name=data.name, type=data.type, base_url=data.base_url,
                           enabled=data.enabled, metadata_=dict(data.metadata), created_by=context.actor)
    if data.api_key is not None:
        secret = data.api_key.get_secret_value()
        provider.api_key_encrypted = CredentialCipher.from_settings(settings).encrypt(secret)
        provider.api_key_hint = mask(secret)
    session.add(provider)
    await _flush(session, data.name, data.type)
    await audit_service.record(session=session, context=context, action_type="provider_added",
                               resource_type=RESOURCE, resource_id=str(provider.id), before=None,
                               after=audit_view(provider))
    return to_read(provider)


async def update(*, session: AsyncSession, settings: Settings, context: AuditContext,
                 provider_id: uuid.UUID, data: ProviderUpdate) -> ProviderRead:
    provider = await get_or_raise(session=session, provider_id=provider_id)
    before = audit_view(provider)
    given = data.model_fields_set
    for column in ("name", "type", "enabled"):
        if column in given and getattr(data, column) is None:
            raise BadRequest(f"{column} cannot be null", param=column)
    name = data.name if data.name is not None else provider.name
    type_ = data.type if data.type is not None else provider.type
    base_url = data.base_url if "base_url" in given else provider.base_url
    _require_base_url(type_, base_url)
    if (name, type_) != (provider.name, provider.type):
        await _ensure_unique(session, name, type_, exclude=provider.id)
    provider.name, provider.type, provider.base_url = name, type_, base_url
    if data.enabled is not None:
        provider.enabled = data.enabled
    if "metadata" in given:
        provider.metadata_ = dict(data.metadata or {})
    if "api_key" in given:
        if data.api_key is None:
            provider.api_key_encrypted, provider.api_key_hint = None, None
        else:
            secret = data.api_key.get_secret_value()
            provider.api_key_encrypted = CredentialCipher.from_settings(settings).encrypt(secret)
            provider.api_key_hint = mask(secret)
    await _flush(session, name, type_)
    await session.refresh(provider)
    await audit_service.record(session=session, context=context, action_type="provider_updated",
                               resource_type=RESOURCE, resource_id=str(provider.id), before=before,
                               after=audit_view(provider))
    return to_read(provider)


async def delete(*, session: AsyncSession, context: AuditContext, provider_id: uuid.UUID) -> None:
    provider = await get_or_raise(session=session, provider_id=provider_id)
    before = audit_view(provider)
    await session.delete(provider)
    await session.flush()
    await audit_service.record(session=session, context=context, action_type="provider_removed",
                               resource_type=RESOURCE, resource_id=str(provider_id), before=before,
                               after=None)


def decrypt_credential(provider: LLMProvider, cipher: CredentialCipher) -> str | None:
    if provider.api_key_encrypted is None:
        return None
    try:
        return cipher.decrypt(provider.api_key_encrypted)
    except ConfigError as exc:
        raise ConfigError(f"{WRONG_KEY_MESSAGE} (provider {provider.name!r}, type {provider.type})") from exc


def timeouts_of(metadata: dict[str, Any] | None) -> ProviderTimeouts:
    metadata = metadata or {}
    timeouts: ProviderTimeouts = {}
    for key in TIMEOUT_KEYS:
        value = metadata.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            timeouts[key] = float(value)
    return timeouts


async def load_provider_credentials(*, session: AsyncSession,
                                    settings: Settings) -> dict[uuid.UUID, ProviderCredential]:
    """Every provider with its decrypted credential, for the gateway's in-memory snapshot.

    Raises ConfigError when a credential was encrypted with a key that is no longer configured:
    calling upstream with garbage, or silently without a key, would only hide the mistake.
    """
    rows = (await session.scalars(select(LLMProvider))).all()
    cipher = CredentialCipher.from_settings(settings)
    return {
        row.id: ProviderCredential(id=row.id, type=row.type, base_url=effective_base_url(row),
                                   api_key=decrypt_credential(row, cipher), enabled=row.enabled,
                                   timeouts=timeouts_of(row.metadata_))
        for row in rows
    }


async def rotate_credentials(*, session: AsyncSession, settings: Settings, context: AuditContext) -> int:
    """Re-encrypt every stored credential under the first key, so older keys can then be dropped."""
    cipher = CredentialCipher.from_settings(settings)
    query = select(LLMProvider).where(LLMProvider.api_key_encrypted.is_not(None))
    rows = (await session.scalars(query)).all()
    for row in rows:
        assert row.api_key_encrypted is not None
        try:
            row.api_key_encrypted = cipher.rotate(row.api_key_encrypted)
        except ConfigError as exc:
            raise ConfigError(f"{WRONG_KEY_MESSAGE} (provider {row.name!r}, type {row.type}); "
                              "nothing was re-encrypted") from exc
    await session.flush()
    await audit_service.record(session=session, context=context, action_type="provider_secrets_rotated",
                               resource_type=RESOURCE, resource_id=None, before=None,
                               after={"re_encrypted": len(rows),
                                      "providers": sorted(str(row.id) for row in rows)})
    return len(rows)
