"""The pure chain: the canonical text (the PostgreSQL trigger's format) and verification of sequences."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from unillm.audit.chain import (
    ChainRow,
    canonical_text,
    format_timestamp,
    row_hash,
    timestamp_from_sqlite_text,
    verify_rows,
)


def _row(row_id: int, prev_hash: str | None, **changes: object) -> ChainRow:
    base = ChainRow(id=row_id, timestamp="2026-11-24T08:00:00.000001", user_id="admin",
                    action_type="provider_added", resource_type="provider", resource_id=f"r{row_id}",
                    details='{"after": null, "before": null}', ip_address=None, user_agent="ü-agent",
                    prev_hash=prev_hash, row_hash=None)
    base = replace(base, **changes)  # type: ignore[arg-type]
    return replace(base, row_hash=row_hash(base, prev_hash))


def _chain(count: int) -> list[ChainRow]:
    rows: list[ChainRow] = []
    for row_id in range(1, count + 1):
        rows.append(_row(row_id, rows[-1].row_hash if rows else None))
    return rows


def test_canonical_text_is_length_prefixed_with_nulls_as_empty() -> None:
    row = _row(7, "ab")
    assert canonical_text(row, "ab") == (
        "1:7|26:2026-11-24T08:00:00.000001|5:admin|14:provider_added|8:provider|2:r7|"
        '31:{"after": null, "before": null}|0:|7:ü-agent|2:ab'
    )
    assert row.row_hash == hashlib.sha256(canonical_text(row, "ab").encode()).hexdigest()


def test_lengths_count_characters_like_postgresql() -> None:
    assert "|7:ü-agent|" in canonical_text(_row(1, None), None)


def test_timestamps_are_utc_with_microseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2026, 1, 2, 5, 4, 5, tzinfo=plus_two)) == "2026-01-02T03:04:05.000000"
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, 12, tzinfo=UTC)) == "2026-01-02T03:04:05.000012"
    assert timestamp_from_sqlite_text("2026-01-02 03:04:05.000012") == "2026-01-02T03:04:05.000012"
    assert timestamp_from_sqlite_text("2026-01-02 03:04:05") == "2026-01-02T03:04:05.000000"
    assert timestamp_from_sqlite_text("2026-01-02 03:04:05.5") == "2026-01-02T03:04:05.500000"


def test_an_intact_chain_verifies() -> None:
    result = verify_rows(_chain(5))
    assert (result.ok, result.rows_checked, result.first_bad_id, result.reason) == (True, 5, None, None)
    assert verify_rows([]).ok


def test_an_edit_names_the_row() -> None:
    rows = _chain(5)
    rows[2] = replace(rows[2], resource_id="forged")
    result = verify_rows(rows)
    assert (result.ok, result.first_bad_id) == (False, 3)
    assert result.reason is not None and result.reason.startswith("row 3 was edited")


def test_a_removed_row_names_the_row_after_it() -> None:
    rows = _chain(5)
    del rows[2]
    result = verify_rows(rows)
    assert result.first_bad_id == 4
    assert result.reason is not None and result.reason.startswith("row before 4 was removed")


def test_a_rehashed_edit_is_caught_by_the_next_link() -> None:
    rows = _chain(4)
    forged = replace(rows[1], resource_id="forged")
    rows[1] = replace(forged, row_hash=row_hash(forged, forged.prev_hash))
    result = verify_rows(rows)
    assert result.first_bad_id == 3
    assert result.reason is not None and "row 2 was changed" in result.reason


def test_a_row_without_hash_is_reported() -> None:
    rows = _chain(3)
    rows.append(replace(_row(4, rows[-1].row_hash), row_hash=None))
    result = verify_rows(rows)
    assert result.reason == "row 4 has no hash (inserted outside unillm on SQLite)"


@given(st.text(), st.text(), st.one_of(st.none(), st.text()))
def test_no_two_different_rows_share_a_canonical_text(first: str, second: str, third: str | None) -> None:
    # Moving characters between neighbouring fields must change the text (the length prefixes).
    a = _row(1, None, user_id=first + second, action_type=third or "")
    b = _row(1, None, user_id=first, action_type=second + (third or ""))
    if second:
        assert canonical_text(a, None) != canonical_text(b, None)
