"""`unillm keys` and `unillm users` end to end against both databases: the secret is printed once
(under `key` with --json), listings show prefixes only, and each change writes one audit row."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from unillm.audit.models import AuditLog
from unillm.auth import keys
from unillm.cli.main import app
from unillm.db.engine import create_engine, create_session_factory


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("UNILLM_DATABASE_URL", database_url)
    monkeypatch.delenv("UNILLM_ADMIN_KEY", raising=False)
    return CliRunner()


def _audit(database_url: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                rows = (await session.scalars(select(AuditLog).order_by(AuditLog.id))).all()
                return [(row.action_type, json.dumps(row.details) + (row.user_id or "")) for row in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_create_list_revoke_with_json(cli: CliRunner, database_url: str) -> None:
    made = cli.invoke(app, ["keys", "create", "--user", "alice", "--tier", "professional", "--name", "ci",
                            "--expires-days", "7", "--json"])
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    secret = created["key"]
    assert secret.startswith("ulm-") and created["user_id"] == "alice" and created["expires_at"]

    listed = cli.invoke(app, ["keys", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)
    assert [(i["id"], i["prefix"]) for i in items] == [(created["id"], secret[:12])]
    assert secret not in listed.stdout

    table = cli.invoke(app, ["keys", "list", "--user", "alice"])
    assert table.exit_code == 0 and "alice" in table.stdout and secret not in table.stdout

    revoked = cli.invoke(app, ["keys", "revoke", created["id"], "--json"])
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["status"] == "revoked"
    assert json.loads(cli.invoke(app, ["keys", "list", "--json"]).stdout) == []
    everything = json.loads(cli.invoke(app, ["keys", "list", "--all", "--json"]).stdout)
    assert [i["status"] for i in everything] == ["revoked"]

    audit = _audit(database_url)
    assert [action for action, _ in audit] == ["api_key_created", "api_key_revoked"]
    assert all(secret not in text and keys.hash_secret(secret) not in text for _, text in audit)
    assert all("cli:" in text for _, text in audit)  # the actor is the CLI's user


def test_plain_create_prints_the_key_once_and_errors_are_one_line(cli: CliRunner) -> None:
    made = cli.invoke(app, ["keys", "create", "--user", "bob", "--kind", "service", "--agent", "bot-1"])
    assert made.exit_code == 0, made.output
    printed = [line for line in made.stdout.splitlines() if line.startswith("ulm-")]
    assert len(printed) == 1 and made.stdout.count(printed[0]) == 1
    bad = cli.invoke(app, ["keys", "create", "--user", "bob", "--kind", "robot"])
    assert bad.exit_code == 1 and "kind" in bad.output
    assert cli.invoke(app, ["keys", "revoke", "nope"]).exit_code == 1
    missing = cli.invoke(app, ["keys", "revoke", "00000000-0000-0000-0000-000000000000"])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_users_set_and_list(cli: CliRunner) -> None:
    assert cli.invoke(app, ["keys", "create", "--user", "alice", "--json"]).exit_code == 0
    changed = cli.invoke(app, ["users", "set", "alice", "--tier", "enterprise", "--role", "viewer",
                               "--disable", "--json"])
    assert changed.exit_code == 0, changed.output
    assert {k: json.loads(changed.stdout)[k] for k in ("tier_code", "role", "disabled")} == {
        "tier_code": "enterprise", "role": "viewer", "disabled": True}
    enabled = cli.invoke(app, ["users", "set", "alice", "--enable"])
    assert enabled.exit_code == 0 and "enabled" in enabled.stdout
    assert cli.invoke(app, ["users", "set", "alice"]).exit_code == 1
    unknown = cli.invoke(app, ["users", "set", "carol", "--tier", "starter"])
    assert unknown.exit_code == 1 and "not found" in unknown.output
    created = cli.invoke(app, ["users", "set", "carol", "--tier", "starter", "--create", "--json"])
    assert created.exit_code == 0 and json.loads(created.stdout)["tier_code"] == "starter"
    listed = json.loads(cli.invoke(app, ["users", "list", "--json"]).stdout)
    assert [(u["id"], u["tier_code"], u["disabled"]) for u in listed] == [
        ("alice", "enterprise", False), ("carol", "starter", False)]
    only = json.loads(cli.invoke(app, ["users", "list", "--tier", "starter", "--json"]).stdout)
    assert [u["id"] for u in only] == ["carol"]
    assert "carol" in cli.invoke(app, ["users", "list"]).stdout
