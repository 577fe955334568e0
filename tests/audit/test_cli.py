"""`unillm audit verify` and `unillm audit list` through the real command line (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.audit.conftest import record_rows_sync, tamper_sync
from unillm.cli.main import app


def _run(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {"UNILLM_DATABASE_URL": database_url, "UNILLM_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_verify_passes_then_names_the_tampered_row(database_url: str, tmp_path: Path) -> None:
    record_rows_sync(database_url, 3)
    code, out, _ = _run(database_url, tmp_path, "audit", "verify")
    assert code == 0 and "3 rows checked" in out
    code, out, _ = _run(database_url, tmp_path, "audit", "verify", "--json")
    assert json.loads(out) == {"ok": True, "rows_checked": 3, "first_bad_id": None, "reason": None}

    tamper_sync(database_url, "UPDATE audit_log SET action_type = 'nothing_happened' WHERE id = 2")
    code, _, err = _run(database_url, tmp_path, "audit", "verify")
    assert code == 1 and "row 2 was edited" in err
    code, out, _ = _run(database_url, tmp_path, "audit", "verify", "--json")
    assert code == 1 and json.loads(out)["first_bad_id"] == 2


def test_verify_names_a_deleted_row(database_url: str, tmp_path: Path) -> None:
    record_rows_sync(database_url, 3)
    tamper_sync(database_url, "DELETE FROM audit_log WHERE id = 2")
    code, _, err = _run(database_url, tmp_path, "audit", "verify")
    assert code == 1 and "row before 3 was removed" in err


def test_list_filters_and_prints_json(database_url: str, tmp_path: Path) -> None:
    record_rows_sync(database_url, 3)
    code, out, _ = _run(database_url, tmp_path, "audit", "list", "--limit", "2", "--json")
    assert code == 0
    document = json.loads(out)
    assert [item["resource_id"] for item in document["items"]] == ["p2", "p1"]
    assert document["next_cursor"] == "2"
    assert "sk-secret" not in out
    code, out, _ = _run(database_url, tmp_path, "audit", "list", "--actor", "admin", "--resource-type",
                        "provider", "--action", "provider_added")
    assert code == 0 and "provider_added" in out and "provider:p0" in out
    code, out, _ = _run(database_url, tmp_path, "audit", "list", "--actor", "nobody", "--json")
    assert json.loads(out) == {"items": [], "next_cursor": None}
