"""A usage record survives its journal line unchanged."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from tests.usage.conftest import TINY, make_record
from unillm.usage.records import QuotaUnit, UsageRecord


def test_json_line_round_trip_keeps_decimals_uuids_and_metadata() -> None:
    record = make_record(price=TINY, prompt=1, completion=0, api_key_id=uuid.uuid4(),
                         server_id=uuid.uuid4(), deployment_id=None, metadata={"quota_fail_open": True},
                         error_message="boom", status="error", status_code=502)
    line = record.to_json_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    again = UsageRecord.from_json_line(line.rstrip(b"\n"))
    assert again == record
    assert again.cost_usd == Decimal("0.000000004")


def test_unpriced_record_round_trips_with_none_cost() -> None:
    record = make_record(price=None)
    assert record.cost_usd is None
    assert UsageRecord.from_json_line(record.to_json_line()) == record


def test_row_freezes_the_price() -> None:
    row = make_record().to_row()
    assert row["input_price_per_1k"] == Decimal("0.0025")
    assert row["cached_input_price_per_1k"] == Decimal("0.00125")
    assert row["metadata"] == {}


def test_quota_unit_round_trips_and_old_lines_without_it_still_read() -> None:
    record = make_record(quota_unit=QuotaUnit(rule_key="tier-rule-7", day=date(2026, 3, 1)))
    assert UsageRecord.from_json_line(record.to_json_line()) == record
    # A line journaled before units existed (or without one) has no "q" key at all.
    plain = make_record()
    assert b'"q"' not in plain.to_json_line()
    assert UsageRecord.from_json_line(plain.to_json_line()).quota_unit is None
