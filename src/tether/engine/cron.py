"""Cron ticks and debounce windows as pure functions: no database, no clock, no event loop.

Cron expressions are parsed by ``croniter`` with DBOS's conventions: five fields (minute precision) or six
with the seconds field first (``"*/5 * * * * *"``: every five seconds). A schedule's ticks are computed in its
time zone (UTC when none is given), so ``"0 0 * * *"`` in ``America/New_York`` fires at New York midnight,
05:00 or 04:00 UTC depending on daylight saving time.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from tether.errors import InvalidScheduleError


def check_cron(expression: str) -> None:
    """Raise if ``expression`` is not a cron expression a schedule accepts.

    Raises:
        InvalidScheduleError: not a valid five- or six-field cron expression.
    """
    if not isinstance(expression, str) or not croniter.is_valid(expression, second_at_beginning=True):
        raise InvalidScheduleError(f"Invalid cron schedule: '{expression}'")


def zone(name: str | None) -> tzinfo:
    """The time zone a schedule's ticks are computed in (UTC for None).

    Raises:
        InvalidScheduleError: ``name`` is not an IANA time zone name.
    """
    if name is None:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except Exception as exc:  # ZoneInfo raises ValueError, KeyError or ZoneInfoNotFoundError by input
        raise InvalidScheduleError(f"Invalid timezone: '{name}'") from exc


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def next_tick(expression: str, tz: tzinfo, after: datetime) -> datetime:
    """The first tick strictly after ``after``, in ``tz``."""
    it = croniter(expression, _aware(after).astimezone(tz), second_at_beginning=True)
    tick: datetime = it.get_next(datetime)
    return tick


def ticks_between(expression: str, tz: tzinfo, start: datetime, end: datetime, limit: int = 100_000
                  ) -> list[datetime]:
    """Every tick strictly after ``start`` and strictly before ``end`` (naive times are UTC), in ``tz``;
    at most ``limit`` of them."""
    end = _aware(end)
    it = croniter(expression, _aware(start).astimezone(tz), second_at_beginning=True)
    out: list[datetime] = []
    while len(out) < limit:
        tick: datetime = it.get_next(datetime)
        if tick >= end:
            break
        out.append(tick)
    return out


def tick_workflow_id(schedule_name: str, at: datetime) -> str:
    """The ID of a schedule's workflow for the tick at ``at``: the same in every process, so two processes
    firing one tick insert one workflow (the second insert finds the ID taken)."""
    return f"sched-{schedule_name}-{at.isoformat()}"


def trigger_workflow_id(schedule_name: str, at: datetime) -> str:
    """The ID of a run started by hand (``trigger_schedule``) at ``at``."""
    return f"sched-{schedule_name}-trigger-{at.isoformat()}"


def revive_scheduled_time(args: tuple[Any, ...], at: int = 0) -> tuple[Any, ...]:
    """The arguments of a scheduled run as the workflow receives them: in the portable (JSON) format the
    scheduled time (argument ``at``) is stored as an ISO 8601 string, and turned back into a ``datetime``."""
    if len(args) > at and isinstance(args[at], str):
        try:
            return (*args[:at], datetime.fromisoformat(args[at]), *args[at + 1:])
        except ValueError:
            return args
    return args


def debounce_delay(now_ms: int, period_s: float, deadline_ms: int | None) -> int:
    """When a debounced workflow starts if no further call comes: ``period_s`` after this call, but never
    after the deadline fixed by the first call (``debounce_timeout_sec`` after it)."""
    due = now_ms + int(period_s * 1000)
    return due if deadline_ms is None else min(due, deadline_ms)


def debounce_deadline(first_call_ms: int, timeout_s: float | None) -> int | None:
    """The latest start of a debounced workflow, fixed at its first call (None: no limit)."""
    return None if not timeout_s else first_call_ms + int(timeout_s * 1000)
