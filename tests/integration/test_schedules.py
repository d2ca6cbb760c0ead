"""Durable schedules on both backends: firing, pause/resume/trigger/backfill/delete, time zones, automatic
backfill after a process was down, changes made elsewhere, calls from inside a workflow, the client."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import make_config
from tether import (
    DBOS,
    DBOSClient,
    InvalidScheduleError,
    Queue,
    ScheduleExistsError,
    ScheduleNotFoundError,
)
from tether.engine.clock import OffsetClock

WAIT = 20.0  # seconds a test waits for a condition before it fails
T = TypeVar("T")
UTC = timezone.utc


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def eventually(check: Callable[[], T | None], what: str) -> T:
    """Poll ``check`` until it returns something truthy (a condition, not a duration, is asserted)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _far_daily() -> str:
    """A daily cron twelve hours away, which cannot fire during a test."""
    t = datetime.now(UTC) + timedelta(hours=12)
    return f"{t.minute} {t.hour} * * *"


def test_every_second_fires_with_time_and_context_and_records_last_tick(dbos: type[DBOS]) -> None:
    name = f"every-second-{_uid()}"
    got: list[tuple[datetime, Any, str | None]] = []

    @DBOS.workflow(name=f"fires-{name}")
    def fires(scheduled_at: datetime, ctx: Any) -> None:
        got.append((scheduled_at, ctx, DBOS.workflow_id))

    DBOS.create_schedule(schedule_name=name, workflow_fn=fires, schedule="* * * * * *", context={"id": 7})
    try:
        eventually(lambda: len(got) >= 2, "two ticks")
        for at, ctx, wfid in got:
            assert ctx == {"id": 7}
            assert at.microsecond == 0 and at.tzinfo is not None
            assert wfid == f"sched-{name}-{at.isoformat()}"
        sched = DBOS.get_schedule(name)
        assert sched is not None and sched["status"] == "ACTIVE" and sched["last_fired_at"] is not None
        assert datetime.fromisoformat(sched["last_fired_at"]).utcoffset() == timedelta(0)
        runs = DBOS.list_workflows(schedule_name=name)
        assert runs and all(r.schedule_name == name and r.queue_name for r in runs)
    finally:
        DBOS.delete_schedule(name)


def test_pause_resume_trigger_delete(dbos: type[DBOS]) -> None:
    name = f"ctl-{_uid()}"
    got: list[datetime] = []

    @DBOS.workflow(name=f"ctl-wf-{name}")
    def ctl(scheduled_at: datetime, ctx: Any) -> str:
        got.append(scheduled_at)
        return str(ctx)

    DBOS.create_schedule(schedule_name=name, workflow_fn=ctl, schedule="* * * * * *", context="c")
    try:
        eventually(lambda: got, "a first tick")
        DBOS.pause_schedule(name)
        assert DBOS.get_schedule(name)["status"] == "PAUSED"  # type: ignore[index]
        assert [s["schedule_name"] for s in DBOS.list_schedules(status="PAUSED")] == [name]
        # Paused: a tick that the timer would have fired does not start (its ID stays free).
        paused_at = datetime.now(UTC)
        later = paused_at + timedelta(seconds=2)
        eventually(lambda: datetime.now(UTC) > later + timedelta(seconds=1), "two ticks to pass")
        ticks = [paused_at.replace(microsecond=0) + timedelta(seconds=s) for s in (1, 2)]
        assert all(DBOS.get_workflow_status(f"sched-{name}-{t.isoformat()}") is None for t in ticks)
        # A trigger runs it now, paused or not.
        before = datetime.now(UTC)
        handle = DBOS.trigger_schedule(name)
        assert handle.workflow_id.startswith(f"sched-{name}-trigger-")
        assert handle.get_result() == "c"
        assert before <= got[-1] <= datetime.now(UTC)
        # Resumed: it fires again.
        DBOS.resume_schedule(name)
        count = len(got)
        eventually(lambda: len(got) > count, "a tick after resume")
    finally:
        DBOS.delete_schedule(name)
    assert DBOS.get_schedule(name) is None
    with pytest.raises(ScheduleNotFoundError, match="does not exist"):
        DBOS.trigger_schedule(name)
    count = len(got)
    assert DBOS.list_workflows(schedule_name=name), "past runs survive the delete"
    # Deleted: nothing fires any more (a tick's worth of waiting, checked against the tick's ID).
    now = datetime.now(UTC).replace(microsecond=0)
    eventually(lambda: datetime.now(UTC) > now + timedelta(seconds=2), "two ticks to pass")
    assert DBOS.get_workflow_status(f"sched-{name}-{(now + timedelta(seconds=1)).isoformat()}") is None
    assert len(got) == count


def test_backfill_runs_each_missed_tick_once_in_the_schedule_time_zone(dbos: type[DBOS]) -> None:
    utc_name, ny_name = f"tz-utc-{_uid()}", f"tz-ny-{_uid()}"
    got: dict[str, list[datetime]] = {utc_name: [], ny_name: []}

    @DBOS.workflow(name=f"tzwf-{utc_name}")
    def tzwf(scheduled_at: datetime, ctx: str) -> None:
        got[ctx].append(scheduled_at)

    DBOS.create_schedule(schedule_name=utc_name, workflow_fn=tzwf, schedule="0 0 * * *", context=utc_name)
    DBOS.create_schedule(schedule_name=ny_name, workflow_fn=tzwf, schedule="0 0 * * *", context=ny_name,
                         cron_timezone="America/New_York")
    try:
        start, end = datetime(2024, 12, 31, 23, tzinfo=UTC), datetime(2025, 1, 3, tzinfo=UTC)
        for name in (utc_name, ny_name):
            handles = DBOS.backfill_schedule(name, start, end)
            assert len(handles) == 2
            for h in handles:
                h.get_result()
        assert [(t.day, t.hour) for t in sorted(got[utc_name])] == [(1, 0), (2, 0)]
        ny = sorted(got[ny_name])
        assert all(t.tzinfo == ZoneInfo("America/New_York") and t.hour == 0 for t in ny)
        assert [t.astimezone(UTC).hour for t in ny] == [5, 5]
        # A second backfill of the same window finds every tick done: nothing runs twice.
        again = DBOS.backfill_schedule(ny_name, start, end)
        for h in again:
            h.get_result()
        assert len(got[ny_name]) == 2
        assert len(DBOS.list_workflows(schedule_name=ny_name)) == 2
    finally:
        DBOS.delete_schedule(utc_name)
        DBOS.delete_schedule(ny_name)


def test_a_non_utc_schedule_fires_with_its_offset(dbos: type[DBOS]) -> None:
    name = f"tokyo-{_uid()}"
    got: list[datetime] = []

    @DBOS.workflow(name=f"tokyo-wf-{name}")
    def tokyo(scheduled_at: datetime, ctx: Any) -> None:
        got.append(scheduled_at)

    DBOS.create_schedule(schedule_name=name, workflow_fn=tokyo, schedule="* * * * * *",
                         cron_timezone="Asia/Tokyo")
    try:
        eventually(lambda: got, "a tick")
        assert got[0].utcoffset() == timedelta(hours=9)
        last = DBOS.get_schedule(name)["last_fired_at"]  # type: ignore[index]
        assert last is not None and datetime.fromisoformat(last).utcoffset() == timedelta(hours=9)
    finally:
        DBOS.delete_schedule(name)


@pytest.mark.parametrize("automatic_backfill", [True, False])
def test_ticks_missed_while_down_run_on_launch_only_with_automatic_backfill(
        db_url: str, automatic_backfill: bool) -> None:
    """The process is down for ten seconds (an injected clock jumps ahead while it is stopped)."""
    name = f"down-{_uid()}"
    ran: list[datetime] = []

    @DBOS.workflow(name=f"down-wf-{name}")
    def down_wf(scheduled_at: datetime, ctx: Any) -> None:
        ran.append(scheduled_at)

    config = make_config(db_url)
    DBOS(config=config, clock=OffsetClock(0))
    DBOS.launch()
    try:
        DBOS.create_schedule(schedule_name=name, workflow_fn=down_wf, schedule="* * * * * *",
                             automatic_backfill=automatic_backfill)
        last = eventually(lambda: (DBOS.get_schedule(name) or {}).get("last_fired_at"), "a first tick")
        DBOS.pause_schedule(name)  # so the tick it fires while stopping cannot move last_fired_at on
        last = DBOS.get_schedule(name)["last_fired_at"]  # type: ignore[index]
        DBOS.resume_schedule(name)
        DBOS.destroy()
        clock = OffsetClock(10)
        relaunched_at = datetime.fromtimestamp(clock.now(), tz=UTC)
        DBOS(config=config, clock=clock)
        DBOS.launch()
        last_at = datetime.fromisoformat(last)
        missed = [last_at + timedelta(seconds=s) for s in range(1, 10)
                  if last_at + timedelta(seconds=s) < relaunched_at]
        assert len(missed) >= 8
        if automatic_backfill:
            for at in missed:
                DBOS.retrieve_workflow(f"sched-{name}-{at.isoformat()}", existing_workflow=False).get_result()
        else:
            # Skipped: the first tick after the launch runs, the missed ones never do.
            eventually(lambda: any(t > relaunched_at for t in ran), "a tick after the launch")
            assert all(DBOS.get_workflow_status(f"sched-{name}-{at.isoformat()}") is None for at in missed)
    finally:
        DBOS.delete_schedule(name)
        DBOS.destroy()


def test_a_change_made_by_another_process_takes_effect_without_restart(dbos: type[DBOS], db_url: str) -> None:
    name = f"remote-{_uid()}"
    got: list[Any] = []

    @DBOS.workflow(name=f"remote-wf-{name}")
    def remote(scheduled_at: datetime, ctx: Any) -> None:
        got.append(ctx)

    with DBOSClient(db_url) as client:
        client.create_schedule(schedule_name=name, workflow_name=f"remote-wf-{name}", schedule="* * * * * *",
                               context="first")
        eventually(lambda: "first" in got, "the client's schedule to fire here")
        client.apply_schedules([{"schedule_name": name, "workflow_name": f"remote-wf-{name}",
                                 "schedule": "* * * * * *", "context": "second"}])
        eventually(lambda: "second" in got, "the new definition to take effect")
        client.pause_schedule(name)
        assert DBOS.get_schedule(name)["status"] == "PAUSED"  # type: ignore[index]
        client.delete_schedule(name)
        assert client.get_schedule(name) is None


def test_checks_come_before_any_write(dbos: type[DBOS]) -> None:
    name = f"checks-{_uid()}"

    @DBOS.workflow(name=f"checks-wf-{name}")
    def checks(scheduled_at: datetime, ctx: Any) -> None:
        pass

    def plain(scheduled_at: datetime, ctx: Any) -> None:
        pass

    with pytest.raises(InvalidScheduleError, match="Invalid cron schedule"):
        DBOS.create_schedule(schedule_name=name, workflow_fn=checks, schedule="every day")
    with pytest.raises(InvalidScheduleError, match="Invalid timezone"):
        DBOS.create_schedule(schedule_name=name, workflow_fn=checks, schedule="* * * * *", cron_timezone="X/Y")
    with pytest.raises(InvalidScheduleError, match="is not declared"):
        DBOS.create_schedule(schedule_name=name, workflow_fn=checks, schedule="* * * * *", queue_name="nope")
    with pytest.raises(InvalidScheduleError, match="is not registered"):
        DBOS.create_schedule(schedule_name=name, workflow_fn=plain, schedule="* * * * *")
    with pytest.raises(InvalidScheduleError, match="missing required field 'schedule'"):
        DBOS.apply_schedules([{"schedule_name": name, "workflow_fn": checks}])
    assert DBOS.get_schedule(name) is None
    DBOS.create_schedule(schedule_name=name, workflow_fn=checks, schedule=_far_daily())
    try:
        with pytest.raises(ScheduleExistsError, match="already exists"):
            DBOS.create_schedule(schedule_name=name, workflow_fn=checks, schedule="* * * * *")
        first = DBOS.get_schedule(name)
        DBOS.apply_schedules([{"schedule_name": name, "workflow_fn": checks, "schedule": "0 * * * *",
                               "context": [1], "automatic_backfill": True}])
        second = DBOS.get_schedule(name)
        assert first is not None and second is not None
        assert second["schedule_id"] == first["schedule_id"]
        assert (second["schedule"], second["context"], second["automatic_backfill"]) == ("0 * * * *", [1], True)
    finally:
        DBOS.delete_schedule(name)


def test_schedule_calls_inside_a_workflow_are_steps(dbos: type[DBOS]) -> None:
    name = f"in-wf-{_uid()}"

    @DBOS.workflow(name=f"target-{name}")
    def target(scheduled_at: datetime, ctx: Any) -> None:
        pass

    @DBOS.workflow(name=f"crud-{name}")
    def crud() -> int:
        DBOS.create_schedule(schedule_name=name, workflow_fn=target, schedule=_far_daily())
        n = len(DBOS.list_schedules(schedule_name_prefix=name))
        DBOS.pause_schedule(name)
        DBOS.delete_schedule(name)
        with pytest.raises(InvalidScheduleError, match="within a workflow"):
            DBOS.trigger_schedule(name)
        return n

    handle = DBOS.start_workflow(crud)
    assert handle.get_result() == 1
    names = [s["function_name"] for s in DBOS.list_workflow_steps(handle.workflow_id)]
    assert names == ["DBOS.createSchedule", "DBOS.listSchedules", "DBOS.pauseSchedule", "DBOS.deleteSchedule"]


def test_ticks_go_to_the_named_queue(dbos: type[DBOS]) -> None:
    name = f"queued-{_uid()}"
    queue = Queue(f"sched-q-{name}")
    seen: list[str | None] = []

    @DBOS.workflow(name=f"queued-wf-{name}")
    def queued(scheduled_at: datetime, ctx: Any) -> None:
        status = DBOS.get_workflow_status(DBOS.workflow_id or "")
        seen.append(status.queue_name if status else None)

    DBOS.create_schedule(schedule_name=name, workflow_fn=queued, schedule=_far_daily(), queue_name=queue.name)
    try:
        assert DBOS.get_schedule(name)["queue_name"] == queue.name  # type: ignore[index]
        DBOS.trigger_schedule(name).get_result()
        assert seen == [queue.name]
    finally:
        DBOS.delete_schedule(name)


def test_classic_scheduled_decorator(db_url: str) -> None:
    got: list[tuple[datetime, datetime]] = []
    name = f"classic-{_uid()}"

    @DBOS.scheduled("* * * * * *")
    @DBOS.workflow(name=name)
    def classic(scheduled: datetime, actual: datetime) -> None:
        got.append((scheduled, actual))

    DBOS(config=make_config(db_url))
    DBOS.launch()
    try:
        eventually(lambda: len(got) >= 2, "two classic ticks")
        assert all(actual >= scheduled for scheduled, actual in got)
        assert DBOS.get_workflow_status(f"sched-{name}-{got[0][0].isoformat()}") is not None
    finally:
        DBOS.destroy(destroy_registry=True)  # forgets the decorator's schedule


def test_async_forms(dbos: type[DBOS]) -> None:
    asyncio.run(_async_forms())


async def _async_forms() -> None:
    name = f"async-{_uid()}"

    @DBOS.workflow(name=f"async-wf-{name}")
    async def awf(scheduled_at: datetime, ctx: Any) -> Any:
        return ctx

    await DBOS.create_schedule_async(schedule_name=name, workflow_fn=awf, schedule=_far_daily(), context=3)
    try:
        assert [s["context"] for s in await DBOS.list_schedules_async(workflow_name=f"async-wf-{name}")] == [3]
        await DBOS.pause_schedule_async(name)
        await DBOS.resume_schedule_async(name)
        assert (await DBOS.get_schedule_async(name))["status"] == "ACTIVE"  # type: ignore[index]
        handle = await DBOS.trigger_schedule_async(name)
        assert await handle.get_result() == 3
        start = datetime(2025, 1, 1, tzinfo=UTC)
        assert len(await DBOS.backfill_schedule_async(name, start, start + timedelta(days=2))) == 2
    finally:
        await DBOS.delete_schedule_async(name)
    assert await DBOS.get_schedule_async(name) is None


@DBOS.dbos_class()
class Reports:
    """A class whose class method is a scheduled workflow (module level, so its runs can find it)."""

    seen: list[tuple[type, datetime, Any]] = []

    @classmethod
    @DBOS.workflow(name="Reports.weekly")
    def weekly(cls, scheduled_at: datetime, ctx: Any) -> None:
        cls.seen.append((cls, scheduled_at, ctx))


@pytest.mark.parametrize("portable", [False, True])
def test_a_class_method_runs_on_its_class(db_url: str, portable: bool) -> None:
    config = make_config(db_url)
    if portable:
        from tether import DBOSPortableJSONSerializer

        config["serializer"] = DBOSPortableJSONSerializer()
    DBOS(config=config)
    DBOS.launch()
    name = f"weekly-{_uid()}"
    try:
        DBOS.create_schedule(schedule_name=name, workflow_fn=Reports.weekly, schedule=_far_daily(), context="c")
        assert DBOS.get_schedule(name)["workflow_class_name"] == "Reports"  # type: ignore[index]
        DBOS.trigger_schedule(name).get_result()
        cls, at, ctx = Reports.seen[-1]
        assert cls is Reports and isinstance(at, datetime) and ctx == "c"
    finally:
        DBOS.delete_schedule(name)
        DBOS.destroy()


def test_many_schedules_share_one_timer(dbos: type[DBOS]) -> None:
    """Fifty schedules do not add a thread each: one task on the runtime's loop fires them all (the runs are
    async workflows, tasks too; only the bounded I/O pool may still grow)."""
    import threading

    prefix = f"many-{_uid()}"
    got: set[str] = set()

    @DBOS.workflow(name=f"many-wf-{prefix}")
    async def many(scheduled_at: datetime, ctx: str) -> None:
        got.add(ctx)

    threads = threading.active_count()
    DBOS.apply_schedules([{"schedule_name": f"{prefix}-{i}", "workflow_fn": many, "schedule": "* * * * * *",
                           "context": str(i)} for i in range(50)])
    try:
        eventually(lambda: len(got) == 50, "every schedule to fire")
        assert threading.active_count() < threads + 25
    finally:
        for i in range(50):
            DBOS.delete_schedule(f"{prefix}-{i}")
