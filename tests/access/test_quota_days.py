"""The quota day and its reset, in UTC and in zones with daylight saving time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from unillm.access.quota.days import day_start, next_reset, quota_day, seconds_until_reset
from unillm.db.types import utcnow

NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def test_utc_day_and_reset() -> None:
    now = datetime(2026, 1, 5, 23, 0, tzinfo=UTC)
    assert quota_day(now, ZoneInfo("UTC")) == date(2026, 1, 5)
    assert seconds_until_reset(now, ZoneInfo("UTC")) == 3600
    assert seconds_until_reset(datetime(2026, 1, 5, tzinfo=UTC), ZoneInfo("UTC")) == 86400


def test_new_york_day_differs_from_the_utc_day_in_the_evening() -> None:
    now = datetime(2026, 1, 6, 3, 0, tzinfo=UTC)  # 22:00 on the 5th in New York (EST, UTC-5)
    assert quota_day(now, NEW_YORK) == date(2026, 1, 5)
    assert quota_day(now, ZoneInfo("UTC")) == date(2026, 1, 6)
    assert seconds_until_reset(now, NEW_YORK) == 2 * 3600
    assert next_reset(now, NEW_YORK) == datetime(2026, 1, 6, 5, 0, tzinfo=UTC)


def test_spring_forward_day_lasts_23_hours_and_fall_back_day_25() -> None:
    assert seconds_until_reset(local(NEW_YORK, 2026, 3, 8), NEW_YORK) == 23 * 3600
    assert seconds_until_reset(local(NEW_YORK, 2026, 11, 1), NEW_YORK) == 25 * 3600
    # An hour before midnight on the switch days is still an hour.
    assert seconds_until_reset(local(NEW_YORK, 2026, 3, 8, 23), NEW_YORK) == 3600
    assert seconds_until_reset(local(NEW_YORK, 2026, 11, 1, 23), NEW_YORK) == 3600


def test_a_zone_whose_dst_switch_skips_midnight() -> None:
    # Santiago jumps from 00:00 to 01:00 on 2026-09-06: that day begins at 01:00 local, 04:00 UTC.
    assert day_start(date(2026, 9, 6), SANTIAGO) == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert seconds_until_reset(local(SANTIAGO, 2026, 9, 5, 23, 30), SANTIAGO) == 1800
    assert quota_day(datetime(2026, 9, 6, 4, tzinfo=UTC), SANTIAGO) == date(2026, 9, 6)
    assert quota_day(datetime(2026, 9, 6, 3, 59, 59, tzinfo=UTC), SANTIAGO) == date(2026, 9, 5)


def test_rounds_up_and_never_says_zero() -> None:
    assert seconds_until_reset(datetime(2026, 1, 5, 23, 59, 59, 500_000, tzinfo=UTC), ZoneInfo("UTC")) == 1


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        quota_day(datetime(2026, 1, 1), NEW_YORK)


def test_with_a_frozen_clock_across_new_york_midnight() -> None:
    with time_machine.travel(datetime(2026, 3, 8, 4, 59, 59, tzinfo=UTC), tick=False):
        assert quota_day(utcnow(), NEW_YORK) == date(2026, 3, 7)
        assert seconds_until_reset(utcnow(), NEW_YORK) == 1
    with time_machine.travel(datetime(2026, 3, 8, 5, 0, 0, tzinfo=UTC), tick=False):
        assert quota_day(utcnow(), NEW_YORK) == date(2026, 3, 8)
        assert seconds_until_reset(utcnow(), NEW_YORK) == 23 * 3600


ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago",
         "Asia/Kolkata"]


@settings(max_examples=300, deadline=None)
@given(zone_name=st.sampled_from(ZONES),
       now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                        timezones=st.just(UTC)))
def test_the_reset_is_the_first_instant_of_the_next_quota_day(zone_name: str, now: datetime) -> None:
    zone = ZoneInfo(zone_name)
    reset = next_reset(now, zone)
    assert reset > now
    assert quota_day(reset, zone) == quota_day(now, zone) + timedelta(days=1)
    assert quota_day(reset - timedelta(seconds=1), zone) == quota_day(now, zone)
    assert 0 < seconds_until_reset(now, zone) <= 26 * 3600
