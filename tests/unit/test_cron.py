"""Cron ticks and debounce windows, as pure functions (no database, no clock)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.engine import cron
from tether.errors import DBOSException, InvalidScheduleError

UTC = timezone.utc
NY = ZoneInfo("America/New_York")


def test_six_fields_put_seconds_first() -> None:
    start = datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert cron.next_tick("*/5 * * * * *", UTC, start) == datetime(2025, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert cron.next_tick("* * * * *", UTC, start) == datetime(2025, 1, 1, 0, 1, tzinfo=UTC)


def test_a_tick_is_strictly_after_the_start() -> None:
    on_tick = datetime(2025, 6, 1, 1, 0, 0, tzinfo=UTC)
    assert cron.next_tick("0 * * * *", UTC, on_tick) == datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
    assert cron.ticks_between("0 * * * *", UTC, on_tick, on_tick + timedelta(hours=2)) == [
        datetime(2025, 6, 1, 2, 0, tzinfo=UTC)]


def test_ticks_between_excludes_both_ends() -> None:
    start = datetime(2025, 6, 1, 0, 30, tzinfo=UTC)
    got = cron.ticks_between("0 * * * *", UTC, start, start + timedelta(hours=3))
    assert got == [datetime(2025, 6, 1, h, tzinfo=UTC) for h in (1, 2, 3)]
    assert cron.ticks_between("0 * * * *", UTC, start, datetime(2025, 6, 1, 1, tzinfo=UTC)) == []


def test_naive_bounds_are_utc() -> None:
    got = cron.ticks_between("0 0 * * *", UTC, datetime(2025, 1, 1), datetime(2025, 1, 3))
    assert got == [datetime(2025, 1, 2, tzinfo=UTC)]


def test_ticks_are_computed_in_the_schedule_time_zone() -> None:
    start = datetime(2024, 12, 31, 23, 0, tzinfo=UTC)
    end = datetime(2025, 1, 3, 0, 0, tzinfo=UTC)
    ny = cron.ticks_between("0 0 * * *", NY, start, end)
    assert [(t.day, t.hour, t.minute) for t in ny] == [(1, 0, 0), (2, 0, 0)]
    assert all(t.tzinfo == NY for t in ny)
    assert [t.astimezone(UTC).hour for t in ny] == [5, 5]  # EST is UTC-5


def test_daylight_saving_time_moves_the_utc_instant() -> None:
    # New York midnight is 05:00 UTC in winter and 04:00 UTC in summer.
    winter = cron.next_tick("0 0 * * *", NY, datetime(2025, 1, 10, 12, tzinfo=UTC))
    summer = cron.next_tick("0 0 * * *", NY, datetime(2025, 7, 10, 12, tzinfo=UTC))
    assert winter.astimezone(UTC).hour == 5 and summer.astimezone(UTC).hour == 4


def test_tick_ids_are_the_same_wherever_computed() -> None:
    at = datetime(2025, 1, 1, 0, 0, tzinfo=NY)
    assert cron.tick_workflow_id("nightly", at) == "sched-nightly-2025-01-01T00:00:00-05:00"
    same_instant_elsewhere = cron.next_tick("0 0 * * *", NY, datetime(2024, 12, 31, 12, tzinfo=UTC))
    assert cron.tick_workflow_id("nightly", same_instant_elsewhere) == cron.tick_workflow_id("nightly", at)
    assert cron.trigger_workflow_id("n", datetime(2025, 1, 1, tzinfo=UTC)).startswith("sched-n-trigger-")


@pytest.mark.parametrize("bad", ["", "not cron", "* * *", "61 * * * *", "* * * * * * * *"])
def test_bad_cron_is_refused(bad: str) -> None:
    with pytest.raises(InvalidScheduleError, match="Invalid cron schedule"):
        cron.check_cron(bad)


def test_bad_time_zone_is_refused() -> None:
    with pytest.raises(DBOSException, match="Invalid timezone"):
        cron.zone("Mars/Olympus_Mons")
    assert cron.zone(None) is UTC


def test_portable_scheduled_time_is_revived() -> None:
    at = datetime(2025, 1, 1, tzinfo=NY)
    assert cron.revive_scheduled_time((at.isoformat(), {"a": 1})) == (at, {"a": 1})
    assert cron.revive_scheduled_time(("not a time", 1)) == ("not a time", 1)
    assert cron.revive_scheduled_time(()) == ()
    assert cron.revive_scheduled_time((int, at.isoformat(), None), 1) == (int, at, None)  # after a class


@given(st.integers(0, 10**12), st.floats(0, 10**4), st.floats(0, 10**4))
def test_a_debounce_never_starts_after_its_deadline(now_ms: int, period: float, timeout: float) -> None:
    deadline = cron.debounce_deadline(now_ms, timeout)
    due = cron.debounce_delay(now_ms, period, deadline)
    assert due <= now_ms + int(period * 1000)
    if deadline is not None:
        assert due <= deadline


def test_debounce_window_rules() -> None:
    # Without a timeout, each call pushes the start to one period after it.
    assert cron.debounce_deadline(1_000, None) is None
    assert cron.debounce_delay(5_000, 2.0, None) == 7_000
    # With one, the first call fixes the latest start; later calls cannot push past it.
    deadline = cron.debounce_deadline(1_000, 3.0)
    assert deadline == 4_000
    assert cron.debounce_delay(1_000, 2.0, deadline) == 3_000
    assert cron.debounce_delay(2_500, 2.0, deadline) == 4_000
