"""`unillm access check`: JSON and human output, exit 0 when allowed and 1 when denied or on error."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from tests.access.conftest import add_users
from unillm.cli.main import app as cli_app


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("UNILLM_REDIS_URL", "UNILLM_COUNTER_BACKEND", "UNILLM_QUOTA_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    asyncio.run(add_users(database_url))
    return {"UNILLM_DATABASE_URL": database_url}


def run_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app, ["access", "check", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_cli_json_and_exit_codes(cli_env: dict[str, str]) -> None:
    code, out, _ = run_cli(cli_env, "--model", "openai/gpt-4", "--tier", "professional", "--json")
    body = json.loads(out)
    assert code == 0 and body["allowed"] is True and body["max_requests_per_day"] == 300
    assert body["max_context_length"] == 8192 and body["rule"]["pattern"] == "openai/gpt-4"
    code, out, _ = run_cli(cli_env, "--model", "openai/gpt-4", "--tier", "trial", "--json")
    assert code == 1 and json.loads(out)["allowed"] is False
    code, out, _ = run_cli(cli_env, "--model", "ollama/llama3", "--user", "trial-user", "--json")
    body = json.loads(out)
    assert code == 0 and body["remaining_today"] == 100 and body["user_id"] == "trial-user"


def test_cli_human_output(cli_env: dict[str, str]) -> None:
    code, out, _ = run_cli(cli_env, "--model", "ollama/llama3", "--user", "trial-user")
    assert code == 0 and "allowed" in out and "remaining today" in out and "100" in out
    code, out, _ = run_cli(cli_env, "-m", "custom/anything", "-t", "professional")
    assert code == 1 and "denied" in out and "custom/*" in out


def test_cli_errors(cli_env: dict[str, str]) -> None:
    code, _, err = run_cli(cli_env, "--model", "a/b", "--user", "ghost")
    assert code == 1 and "user 'ghost' does not exist" in err
    code, _, err = run_cli(cli_env, "--model", "a/b")
    assert code == 1 and "exactly one of --tier or --user" in err
