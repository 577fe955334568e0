"""`unillm providers` and `unillm secrets rotate`, run as a user would, against both backends."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from typer.testing import CliRunner

from tests.provider.conftest import CANARY, FakeModelsApi
from unillm.audit.models import AuditLog
from unillm.cli.main import app
from unillm.config import Settings
from unillm.provider import service as provider_service
from unillm.runtime import Runtime


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("UNILLM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("UNILLM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("UNILLM_SECRET_KEY", settings.secret_key or "")
    monkeypatch.setenv("CANARY_KEY", CANARY)
    return CliRunner()


@pytest.fixture
def fake_in_thread() -> Iterator[FakeModelsApi]:
    """The fake runs on its own loop: each CLI command runs (and ends) its own event loop."""
    loop = asyncio.new_event_loop()
    fake = FakeModelsApi(CANARY)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(fake.__aenter__(), loop).result(timeout=10)
    yield fake
    asyncio.run_coroutine_threadsafe(fake.__aexit__(None, None, None), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def _audit_actions(settings: Settings) -> list[tuple[str, str | None, str]]:
    async def read() -> list[tuple[str, str | None, str]]:
        runtime = Runtime.create(settings)
        try:
            async with runtime.sessions() as session:
                rows = (await session.scalars(select(AuditLog).order_by(AuditLog.id))).all()
                return [(row.action_type, row.user_agent, json.dumps(row.details)) for row in rows]
        finally:
            await runtime.close()

    return asyncio.run(read())


def test_add_list_test_remove(cli: CliRunner, settings: Settings, fake_in_thread: FakeModelsApi) -> None:
    added = cli.invoke(app, ["providers", "add", "fake", "--type", "custom", "--base-url",
                             fake_in_thread.base_url, "--api-key-env", "CANARY_KEY", "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["api_key_hint"] == "sk-…1234"
    from_stdin = cli.invoke(app, ["providers", "add", "groq-main", "--type", "groq", "--api-key-stdin"],
                            input="gsk-another-secret-9876\n")
    assert from_stdin.exit_code == 0, from_stdin.output
    assert "gsk…9876" in from_stdin.stdout

    listed = cli.invoke(app, ["providers", "list", "--json"])
    assert listed.exit_code == 0
    assert [(p["name"], p["api_key_hint"]) for p in json.loads(listed.stdout)] == [
        ("fake", "sk-…1234"), ("groq-main", "gsk…9876")]
    table = cli.invoke(app, ["providers", "list"])
    assert table.exit_code == 0 and "groq-main" in table.stdout

    tested = cli.invoke(app, ["providers", "test", "fake", "--json"])
    assert tested.exit_code == 0, tested.output
    assert json.loads(tested.stdout)["models"] == ["gpt-4o", "gpt-4o-mini"]
    fake_in_thread.api_key = "rotated-upstream"
    failed = cli.invoke(app, ["providers", "test", "fake"])
    assert failed.exit_code == 1 and "401" in failed.stdout

    removed = cli.invoke(app, ["providers", "remove", "groq-main"])
    assert removed.exit_code == 0, removed.output
    gone = cli.invoke(app, ["providers", "remove", "groq-main"])
    assert gone.exit_code == 1 and "not found" in gone.stderr

    outputs = [added, from_stdin, listed, table, tested, failed, removed, gone]
    assert not any(CANARY in result.output or "gsk-another" in result.output for result in outputs)
    actions = _audit_actions(settings)
    assert [action for action, _, _ in actions] == ["provider_added", "provider_added", "provider_removed"]
    assert {agent for _, agent, _ in actions} == {"unillm-cli"}
    assert not any(CANARY in details for _, _, details in actions)


def test_add_refuses_bad_input_without_echoing_the_key(cli: CliRunner, settings: Settings) -> None:
    custom = cli.invoke(app, ["providers", "add", "c", "--type", "custom", "--api-key-env", "CANARY_KEY"])
    assert custom.exit_code == 1 and "base_url" in custom.stderr
    bad_type = cli.invoke(app, ["providers", "add", "c", "--type", "nope", "--api-key-env", "CANARY_KEY"])
    assert bad_type.exit_code == 1 and "type" in bad_type.stderr
    missing = cli.invoke(app, ["providers", "add", "c", "--type", "openai", "--api-key-env", "NOT_SET_XYZ"])
    assert missing.exit_code == 1 and "NOT_SET_XYZ" in missing.stderr
    both = cli.invoke(app, ["providers", "add", "c", "--type", "openai", "--api-key-env", "CANARY_KEY",
                            "--api-key-stdin"], input="x\n")
    assert both.exit_code == 1
    bad_key = cli.invoke(app, ["providers", "add", "c", "--type", "openai", "--api-key-stdin"],
                         input="sk-with space\u0001\n")
    assert bad_key.exit_code == 1 and "sk-with" not in bad_key.output
    twice = [cli.invoke(app, ["providers", "add", "dup", "--type", "openai"]) for _ in range(2)]
    assert twice[0].exit_code == 0 and twice[1].exit_code == 1 and "already exists" in twice[1].stderr
    for result in (custom, bad_type, missing, both):
        assert CANARY not in result.output
    assert [action for action, _, _ in _audit_actions(settings)] == ["provider_added"]


def test_secrets_rotate_with_two_keys(cli: CliRunner, settings: Settings,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.invoke(app, ["providers", "add", "a", "--type", "openai", "--api-key-env", "CANARY_KEY"]
                      ).exit_code == 0
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv("UNILLM_SECRET_KEY", new_key)
    refused = cli.invoke(app, ["secrets", "rotate"])
    assert refused.exit_code == 1 and "cannot be decrypted" in refused.stderr
    monkeypatch.setenv("UNILLM_SECRET_KEY", f"{new_key},{settings.secret_key}")
    rotated = cli.invoke(app, ["secrets", "rotate", "--json"])
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.stdout) == {"re_encrypted": 1}

    async def load_with_new_key_only() -> list[str | None]:
        runtime = Runtime.create(settings.model_copy(update={"secret_key": new_key}))
        try:
            async with runtime.sessions() as session:
                loaded = await provider_service.load_provider_credentials(session=session,
                                                                          settings=runtime.settings)
                return [credential.api_key for credential in loaded.values()]
        finally:
            await runtime.close()

    assert asyncio.run(load_with_new_key_only()) == [CANARY]
    assert [action for action, _, _ in _audit_actions(settings)] == ["provider_added",
                                                                      "provider_secrets_rotated"]
