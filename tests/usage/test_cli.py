"""`unillm usage summary` and `unillm pricing ...` through the real command line."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from tests.usage.conftest import make_record
from unillm.cli.main import app
from unillm.db.engine import create_engine, create_session_factory
from unillm.usage.writer import UsageWriter


def _run(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {"UNILLM_DATABASE_URL": database_url, "UNILLM_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _seed(database_url: str) -> None:
    async def _work() -> None:
        engine = create_engine(database_url)
        writer = UsageWriter(sessions=create_session_factory(engine), tz=ZoneInfo("UTC"), journal_dir=None)
        for user in ("alice", "alice", "bob"):
            writer.submit(make_record(user_id=user))
        writer.submit(make_record(user_id="bob", price=None))
        await writer.flush()
        await engine.dispose()

    asyncio.run(_work())


def test_usage_summary_by_user_in_json_csv_and_table(database_url: str, tmp_path: Path) -> None:
    _seed(database_url)
    code, out, _ = _run(database_url, tmp_path, "usage", "summary", "--by", "user", "--json")
    assert code == 0
    document = json.loads(out)
    groups = {g["key"]: g for g in document["groups"]}
    assert groups["alice"]["cost_usd"] == "0.0015" and groups["bob"]["unpriced_requests"] == 1
    assert document["total"]["requests"] == 4
    code, out, _ = _run(database_url, tmp_path, "usage", "summary", "--by", "user", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["user"] for r in rows] == ["alice", "bob"]
    code, out, _ = _run(database_url, tmp_path, "usage", "summary")
    assert code == 0 and "no price" in out
    code, _, err = _run(database_url, tmp_path, "usage", "summary", "--from", "yesterday")
    assert code == 1 and "--from" in err


def test_pricing_load_defaults_set_and_list(database_url: str, tmp_path: Path) -> None:
    code, out, _ = _run(database_url, tmp_path, "pricing", "set", "openai/gpt-4o", "--input", "0.001",
                        "--output", "0.002", "--json")
    assert code == 0 and json.loads(out)["input_price_per_1k"] == "0.001"
    code, out, _ = _run(database_url, tmp_path, "pricing", "load-defaults", "--json")
    result = json.loads(out)
    assert code == 0 and result["skipped"] == 1 and "openai/gpt-4o-mini" in result["inserted"]
    code, out, _ = _run(database_url, tmp_path, "pricing", "list", "--json")
    prices = {p["model_id"]: p for p in json.loads(out)}
    assert prices["openai/gpt-4o"]["input_price_per_1k"] == "0.001"
    code, _, err = _run(database_url, tmp_path, "pricing", "delete", "nope/nope")
    assert code == 1 and "no price" in err
