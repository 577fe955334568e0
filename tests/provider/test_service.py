"""The provider service without HTTP: the gateway's credential loader and key rotation."""

from __future__ import annotations

import json
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from tests.provider.conftest import CANARY
from unillm.audit.models import AuditLog
from unillm.audit.schemas import AuditContext
from unillm.errors import ConfigError
from unillm.provider import service as provider_service
from unillm.provider.crypto import WRONG_KEY_MESSAGE
from unillm.provider.models import LLMProvider
from unillm.provider.schemas import ProviderCreate
from unillm.runtime import Runtime

CONTEXT = AuditContext(actor="cli:test", user_agent="unillm-cli")


async def _add(runtime: Runtime, **fields: object) -> uuid.UUID:
    data = ProviderCreate.model_validate({"name": "p", "type": "openai", "api_key": CANARY, **fields})
    async with runtime.sessions.begin() as session:
        created = await provider_service.create(session=session, settings=runtime.settings, context=CONTEXT,
                                                data=data)
    return created.id


async def test_load_provider_credentials_decrypts_and_applies_defaults(runtime: Runtime) -> None:
    openai_id = await _add(runtime, metadata={"connect_timeout": 2, "total_timeout": 30.5, "other": 1})
    custom_id = await _add(runtime, name="local", type="custom", base_url="http://127.0.0.1:1/v1",
                           api_key=None, enabled=False)
    async with runtime.sessions() as session:
        credentials = await provider_service.load_provider_credentials(session=session,
                                                                       settings=runtime.settings)
    openai = credentials[openai_id]
    assert openai.api_key == CANARY
    assert openai.base_url == "https://api.openai.com/v1"
    assert openai.timeouts == {"connect_timeout": 2.0, "total_timeout": 30.5}
    assert openai.enabled is True and openai.type == "openai"
    assert CANARY not in repr(openai)
    custom = credentials[custom_id]
    assert custom.api_key is None and custom.enabled is False and custom.timeouts == {}


async def test_stored_ciphertext_is_not_the_secret(runtime: Runtime) -> None:
    provider_id = await _add(runtime)
    async with runtime.sessions() as session:
        row = await session.get(LLMProvider, provider_id)
    assert row is not None and row.api_key_encrypted is not None
    assert CANARY not in row.api_key_encrypted and row.api_key_hint == "sk-…1234"


async def test_rotation_with_two_keys_then_the_old_key_can_go(runtime: Runtime) -> None:
    old_key = runtime.settings.secret_keys[0]
    first = await _add(runtime)
    second = await _add(runtime, name="q")
    await _add(runtime, name="keyless", api_key=None)
    new_key = Fernet.generate_key().decode()
    both = runtime.settings.model_copy(update={"secret_key": f"{new_key},{old_key}"})
    only_new = runtime.settings.model_copy(update={"secret_key": new_key})

    async with runtime.sessions() as session:
        with pytest.raises(ConfigError, match="cannot be decrypted"):
            await provider_service.load_provider_credentials(session=session, settings=only_new)
        # Before the rotation both keys still read every credential.
        loaded = await provider_service.load_provider_credentials(session=session, settings=both)
        assert loaded[first].api_key == CANARY
    async with runtime.sessions.begin() as session:
        audits_before = await session.scalar(select(func.count()).select_from(AuditLog))
        count = await provider_service.rotate_credentials(session=session, settings=both, context=CONTEXT)
    assert count == 2
    async with runtime.sessions() as session:
        loaded = await provider_service.load_provider_credentials(session=session, settings=only_new)
        assert loaded[first].api_key == CANARY and loaded[second].api_key == CANARY
        rows = (await session.scalars(select(AuditLog).order_by(AuditLog.id))).all()
    assert len(rows) == (audits_before or 0) + 1
    assert rows[-1].action_type == "provider_secrets_rotated"
    assert CANARY not in json.dumps(rows[-1].details)


async def test_rotation_with_an_unknown_key_changes_nothing(runtime: Runtime) -> None:
    await _add(runtime)
    stranger = runtime.settings.model_copy(update={"secret_key": Fernet.generate_key().decode()})
    async with runtime.sessions() as session:
        audits_before = await session.scalar(select(func.count()).select_from(AuditLog))
    with pytest.raises(ConfigError) as caught:
        async with runtime.sessions.begin() as session:
            await provider_service.rotate_credentials(session=session, settings=stranger, context=CONTEXT)
    assert WRONG_KEY_MESSAGE in caught.value.message and "nothing was re-encrypted" in caught.value.message
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditLog)) == audits_before
        loaded = await provider_service.load_provider_credentials(session=session, settings=runtime.settings)
    assert [c.api_key for c in loaded.values()] == [CANARY]


async def test_get_by_name_needs_the_type_when_ambiguous(runtime: Runtime) -> None:
    await _add(runtime, name="same")
    await _add(runtime, name="same", type="groq")
    async with runtime.sessions() as session:
        with pytest.raises(Exception, match="give the type"):
            await provider_service.get_by_name(session=session, name="same")
        found = await provider_service.get_by_name(session=session, name="same", type="groq")
        assert found.type == "groq"
