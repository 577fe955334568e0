"""The pricing and usage admin API over ASGI, with the real lifespan (the writer runs)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from tests.usage.conftest import PLAIN, TINY, VIEWER, UsageApi, make_record
from unillm.audit.models import AuditLog
from unillm.db.config_version import read_config_version


async def _audit_count(api: UsageApi) -> int:
    async with api.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditLog)) or 0)


async def test_pricing_crud_is_audited_and_bumps_the_config_version(api: UsageApi) -> None:
    async with api.runtime.sessions() as session:
        version = await read_config_version(session=session)
    audits = await _audit_count(api)
    body = {"input_price_per_1k": "0.0025", "output_price_per_1k": "0.01",
            "cached_input_price_per_1k": "0.00125"}
    response = await api.client.put("/api/v1/pricing/openai/gpt-4o", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["model_id"] == "openai/gpt-4o"
    assert response.json()["provider"] == "openai"
    assert response.json()["input_price_per_1k"] == "0.0025"
    changed = {**body, "output_price_per_1k": "0.02"}
    response = await api.client.put("/api/v1/pricing/openai/gpt-4o", json=changed)
    assert response.json()["output_price_per_1k"] == "0.02"
    listed = (await api.client.get("/api/v1/pricing")).json()
    assert [p["model_id"] for p in listed] == ["openai/gpt-4o"]
    assert (await api.client.get("/api/v1/pricing/openai/gpt-4o")).status_code == 200
    assert (await api.client.delete("/api/v1/pricing/openai/gpt-4o")).status_code == 204
    assert (await api.client.delete("/api/v1/pricing/openai/gpt-4o")).status_code == 404
    assert await _audit_count(api) == audits + 3
    async with api.runtime.sessions() as session:
        assert await read_config_version(session=session) == version + 3
        rows = list(await session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(3)))
    assert [r.action_type for r in rows] == ["pricing.delete", "pricing.update", "pricing.create"]


async def test_bad_prices_are_422_and_viewers_cannot_write(api: UsageApi) -> None:
    negative = {"input_price_per_1k": "-1", "output_price_per_1k": "1"}
    bad = await api.client.put("/api/v1/pricing/x/y", json=negative)
    assert bad.status_code == 422
    api.act_as(VIEWER)
    assert (await api.client.get("/api/v1/pricing")).status_code == 200
    fine = {"input_price_per_1k": "1", "output_price_per_1k": "1"}
    denied = await api.client.put("/api/v1/pricing/x/y", json=fine)
    assert denied.status_code == 403
    api.act_as(PLAIN)
    assert (await api.client.get("/api/v1/usage/logs")).status_code == 403


async def test_load_defaults_inserts_only_missing_prices(api: UsageApi) -> None:
    mine = {"input_price_per_1k": "0.001", "output_price_per_1k": "0.002"}
    await api.client.put("/api/v1/pricing/openai/gpt-4o", json=mine)
    result = (await api.client.post("/api/v1/pricing/load-defaults")).json()
    assert "openai/gpt-4o" not in result["inserted"] and result["skipped"] == 1
    expected = {"openai/gpt-4o-mini", "anthropic/claude-3-5-sonnet", "openai/gpt-3.5-turbo"}
    assert expected <= set(result["inserted"])
    kept = (await api.client.get("/api/v1/pricing/openai/gpt-4o")).json()
    assert kept["input_price_per_1k"] == "0.001"
    again = (await api.client.post("/api/v1/pricing/load-defaults")).json()
    assert again["inserted"] == []
    from unillm.usage.service import load_prices

    async with api.runtime.sessions() as session:
        prices = await load_prices(session=session)
    assert prices["openai/gpt-4o-mini"].cached_input_per_1k == Decimal("0.000075")


async def _seed(api: UsageApi) -> list[str]:
    now = datetime.now(UTC)
    ids = []
    for i in range(12):
        record = make_record(user_id="alice" if i % 2 else "bob", status="error" if i == 5 else "success",
                             timestamp=now - timedelta(minutes=i), request_id=f"seed-{i:02d}")
        ids.append(record.request_id)
        api.writer.submit(record)
    api.writer.submit(make_record(price=None, user_id="carol", model_id="ollama/llama3", provider="ollama",
                                  source="openwebui", request_id="seed-unpriced"))
    api.writer.submit(make_record(price=TINY, prompt=1000, completion=0, user_id="carol",
                                  request_id="seed-tiny"))
    await api.writer.flush()
    return ids


async def test_logs_filter_and_paginate_newest_first(api: UsageApi) -> None:
    await _seed(api)
    first = (await api.client.get("/api/v1/usage/logs", params={"user_id": "alice", "limit": 4})).json()
    assert len(first["items"]) == 4 and first["next_cursor"]
    assert all(item["user_id"] == "alice" for item in first["items"])
    ids = [item["id"] for item in first["items"]]
    assert ids == sorted(ids, reverse=True)
    params = {"user_id": "alice", "limit": 4, "cursor": first["next_cursor"]}
    second = (await api.client.get("/api/v1/usage/logs", params=params)).json()
    assert len(second["items"]) == 2 and second["next_cursor"] is None
    assert max(i["id"] for i in second["items"]) < min(ids)
    errors = (await api.client.get("/api/v1/usage/logs", params={"status": "error"})).json()["items"]
    assert [e["request_id"] for e in errors] == ["seed-05"]
    assert (await api.client.get("/api/v1/usage/logs", params={"cursor": "abc"})).status_code == 400
    naive = await api.client.get("/api/v1/usage/logs", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 400


async def test_summary_shows_unpriced_requests_and_exact_costs(api: UsageApi) -> None:
    await _seed(api)
    by_user = (await api.client.get("/api/v1/usage/summary", params={"group_by": "user"})).json()
    groups = {g["key"]: g for g in by_user["groups"]}
    assert groups["carol"]["requests"] == 2 and groups["carol"]["unpriced_requests"] == 1
    assert groups["carol"]["cost_usd"] == "0.000004"
    assert groups["alice"]["cost_usd"] == "0.0045"
    assert by_user["total"]["requests"] == 14
    assert by_user["total"]["error_requests"] == 1
    assert by_user["total"]["prompt_tokens"] == 13 * 100 + 1000
    assert by_user["total"]["completion_tokens"] == 13 * 50
    by_source = (await api.client.get("/api/v1/usage/summary", params={"group_by": "source"})).json()
    assert {g["key"]: g["unpriced_requests"] for g in by_source["groups"]} == {"api": 0, "openwebui": 1}
    bad = await api.client.get("/api/v1/usage/summary", params={"from": "2026-02-01", "to": "2026-01-01"})
    assert bad.status_code == 400


async def test_csv_export_streams_every_row(api: UsageApi) -> None:
    await _seed(api)
    response = await api.client.get("/api/v1/usage/export.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 14
    unpriced = next(r for r in rows if r["request_id"] == "seed-unpriced")
    assert unpriced["cost_usd"] == "" and unpriced["input_price_per_1k"] == ""
    assert next(r for r in rows if r["request_id"] == "seed-tiny")["cost_usd"] == "0.000004"


async def test_billing_statement_per_user_and_month(api: UsageApi) -> None:
    await _seed(api)
    month = datetime.now(UTC).strftime("%Y-%m")
    response = await api.client.get("/api/v1/usage/billing", params={"user": "carol", "month": month})
    if response.status_code == 200 and json.loads(response.text)["requests"] < 2:  # seeded across a month end
        month = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m")
        response = await api.client.get("/api/v1/usage/billing", params={"user": "carol", "month": month})
    statement = json.loads(response.text)
    assert statement["requests"] == 2 and statement["unpriced_requests"] == 1
    assert statement["total_cost_usd"] == "0.000004"
    assert sorted(line["request_id"] for line in statement["lines"]) == ["seed-tiny", "seed-unpriced"]
    as_csv = await api.client.get("/api/v1/usage/billing", params={"user": "carol", "month": month,
                                                                   "format": "csv"})
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {line["request_id"] for line in lines} == {"seed-tiny", "seed-unpriced"}
    bad_month = await api.client.get("/api/v1/usage/billing", params={"user": "x", "month": "2026-13"})
    assert bad_month.status_code == 400


async def test_export_bytes_match_the_python_formatting_on_every_backend(api: UsageApi) -> None:
    """PostgreSQL formats the CSV itself (COPY); its bytes must equal the portable path's."""
    from unillm.usage import reports
    from unillm.usage.schemas import UsageFilters

    await _seed(api)
    api.writer.submit(make_record(request_id="seed-estimated", usage_estimated=True,
                                  error_message='quote " and, comma\nnewline'))
    await api.writer.flush()
    response = await api.client.get("/api/v1/usage/export.csv", params={"user_id": "alice"})
    expected = reports.csv_chunk([], reports.EXPORT_COLUMNS)
    async for rows in reports.iter_log_batches(sessions=api.runtime.sessions,
                                               filters=UsageFilters(user_id="alice")):
        expected += reports.csv_chunk(rows)
    assert response.content == expected
    assert b"true" in response.content and b"+00:00" in response.content
