"""Durable schedules: creating and changing them, firing their ticks, backfill, and the one timer per process
that fires every schedule.

A schedule is a row of the system database, so every process sees it and a change (create, pause, resume,
delete, a new definition) reaches every process's timer at once through the wake-up hub (kind ``sched``, fed
by LISTEN/NOTIFY on PostgreSQL and the wake-up log on SQLite). A tick is a workflow whose ID is derived from
the schedule's name and the tick's time (:func:`tether.engine.cron.tick_workflow_id`) and which is inserted
ENQUEUED on the schedule's queue: however many processes fire one tick, the database keeps one workflow, and
the queue runs it once.

The timer is one task on the runtime's event loop (no thread per schedule). It sleeps until the earliest next
tick of all schedules, or until a schedule changes; it re-reads the schedules after a change, and every
:data:`RELOAD_SECONDS` in case a wake-up was lost. A schedule the timer arms for the first time (at launch, or
when it is created or resumed) with ``automatic_backfill`` first starts the ticks it missed since its last
one. Ticks that pass while a process runs late (a busy loop) are still fired; ticks that passed while no
process ran are skipped unless ``automatic_backfill`` is set.

A process fires only the schedules whose workflow it has registered: another process that has it will fire
them (the tick IDs make that safe), and a process without the function never takes ticks it cannot run. When
several applications share one system database, a process fires only its own application's schedules and the
unclaimed ones (``application_name`` None), as DBOS 3.4 does; a tick's workflow belongs to the schedule's owner
(to the firing application for an unclaimed schedule).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any

from tether.engine import cron
from tether.engine.inputs import encode_inputs
from tether.engine.queues import INTERNAL_QUEUE
from tether.engine.registry import lookup_workflow
from tether.engine.runtime import Runtime, logger
from tether.errors import ScheduleNotFoundError, TetherError
from tether.serialization import deserialize
from tether.storage.base import ScheduleRow, WorkflowRow
from tether.types import WorkflowSchedule, WorkflowSerializationFormat, WorkflowStatusString

SCHEDULE_KEY = ("sched", "*", "")
"""The wake-up key every schedule change notifies."""

RELOAD_SECONDS = 30.0
"""How often a timer re-reads the schedules without having been woken (a fallback for a lost wake-up)."""

MAX_TICKS_PER_PASS = 1000
"""At most this many overdue ticks of one schedule are fired at once (the rest follow on the next pass)."""

MAX_BACKFILL = 10_000
"""At most this many missed ticks of one schedule are started by an automatic backfill."""


@dataclass(frozen=True)
class Plan:
    """What firing a schedule needs, and the definition whose change re-arms it."""

    name: str
    workflow_name: str
    expression: str
    tz: tzinfo
    context: bytes | None
    queue_name: str | None
    automatic_backfill: bool = False
    last_fired_ms: int | None = None
    classic: bool = False  # @DBOS.scheduled: arguments (scheduled time, actual time), no context
    class_name: str | None = None  # a class method's class, as registered with @DBOS.dbos_class()
    owner: str | None = None  # the owning application (None: unclaimed)

    @property
    def signature(self) -> tuple[Any, ...]:
        return (self.workflow_name, self.expression, str(self.tz), self.context, self.queue_name, self.classic,
                self.class_name, self.owner)

    @staticmethod
    def of(row: ScheduleRow) -> Plan:
        return Plan(row.schedule_name, row.workflow_name, row.schedule, cron.zone(row.cron_timezone), row.context,
                    row.queue_name, bool(row.automatic_backfill), row.last_fired_ms,
                    class_name=row.workflow_class_name, owner=row.application_name)


# -- the schedules of @DBOS.scheduled: defined in code, so every process has them ---------------------------
_classic: dict[str, Plan] = {}


def register_classic(workflow_name: str, expression: str) -> None:
    """Fire ``workflow_name`` on ``expression`` (UTC) with (scheduled time, actual time), in every process
    that registers it.

    Raises:
        InvalidScheduleError: ``expression`` is not a valid cron expression.
    """
    cron.check_cron(expression)
    _classic[workflow_name] = Plan(workflow_name, workflow_name, expression, timezone.utc, None, None,
                                   classic=True)


def forget_classic() -> None:
    """Forget every ``@DBOS.scheduled`` schedule (``DBOS.destroy(destroy_registry=True)``)."""
    _classic.clear()


# -- rows and public shapes ------------------------------------------------------------------------------
def to_schedule(row: ScheduleRow) -> WorkflowSchedule:
    """The public form of a stored schedule (its context deserialized)."""
    context: Any = None
    if row.context is not None:
        try:
            context = deserialize(row.context)
        except Exception:  # a context whose class is gone: the schedule is still listed
            logger.warning("Cannot deserialize the context of schedule %r", row.schedule_name)
    return WorkflowSchedule(
        schedule_id=row.schedule_id, schedule_name=row.schedule_name, workflow_name=row.workflow_name,
        workflow_class_name=row.workflow_class_name, schedule=row.schedule, status=row.status, context=context,
        last_fired_at=row.last_fired_at, automatic_backfill=bool(row.automatic_backfill),
        cron_timezone=row.cron_timezone, queue_name=row.queue_name, application_name=row.application_name,
        shard_key=None)


# -- operations (each one coroutine; the API's sync forms run them through the bridge) --------------------
async def put(rt: Runtime, rows: Sequence[ScheduleRow], *, replace: bool) -> None:
    """Create (or with ``replace``, create or redefine) schedules in one transaction, and wake the timers.

    Raises:
        ScheduleExistsError: a name is taken (and ``replace`` is False).
    """
    await rt.io(rt.store.put_schedules, list(rows), replace=replace)
    rt.notify(*SCHEDULE_KEY)


async def list_schedules(rt: Runtime, *, status: Sequence[str] | None = None,
                         workflow_name: Sequence[str] | None = None, name_prefix: Sequence[str] | None = None,
                         owners: Sequence[str] | None = None) -> list[WorkflowSchedule]:
    """Schedules by name; ``owners``: only those of these applications, and the unclaimed ones."""
    rows = await rt.io(rt.store.list_schedules, status=status, workflow_name=workflow_name,
                       name_prefix=name_prefix, owners=owners)
    return [to_schedule(r) for r in rows]


async def get_row(rt: Runtime, name: str) -> ScheduleRow | None:
    rows = await rt.io(rt.store.list_schedules, names=[name])
    return rows[0] if rows else None


async def get_schedule(rt: Runtime, name: str) -> WorkflowSchedule | None:
    row = await get_row(rt, name)
    return to_schedule(row) if row is not None else None


async def set_status(rt: Runtime, name: str, status: str) -> bool:
    """Pause (``PAUSED``) or resume (``ACTIVE``) a schedule; False if none has that name."""
    changed = await rt.io(rt.store.set_schedule_status, name, status, rt.clock.now_ms())
    rt.notify(*SCHEDULE_KEY)
    return changed


async def delete(rt: Runtime, name: str) -> bool:
    """Delete a schedule (its past runs stay); False if none has that name."""
    deleted = await rt.io(rt.store.delete_schedule, name)
    rt.notify(*SCHEDULE_KEY)
    return deleted


async def _existing(rt: Runtime, name: str) -> Plan:
    row = await get_row(rt, name)
    if row is None:
        raise ScheduleNotFoundError(name)
    return Plan.of(row)


async def trigger(rt: Runtime, name: str, app: str | None) -> str:
    """Start one run of a schedule now, whatever its cron expression says, for application ``app`` if the
    schedule is unclaimed. Returns the workflow ID.

    Raises:
        ScheduleNotFoundError: no schedule has this name.
    """
    plan = await _existing(rt, name)
    now = datetime.fromtimestamp(rt.clock.now(), tz=timezone.utc)
    wfid = cron.trigger_workflow_id(name, now)
    await fire(rt, plan, now, wfid, app)
    return wfid


async def backfill(rt: Runtime, name: str, start: datetime, end: datetime, app: str | None) -> list[str]:
    """Start the runs of every tick strictly between ``start`` and ``end`` (naive times are UTC), under the
    same IDs the timer uses: ticks that already ran are not run again. Returns their workflow IDs in order.
    ``app``: the application the runs of an unclaimed schedule belong to.

    Raises:
        ScheduleNotFoundError: no schedule has this name.
    """
    plan = await _existing(rt, name)
    ids = []
    for at in cron.ticks_between(plan.expression, plan.tz, start, end):
        wfid = cron.tick_workflow_id(name, at)
        await fire(rt, plan, at, wfid, app)
        ids.append(wfid)
    return ids


async def fire(rt: Runtime, plan: Plan, at: datetime, workflow_id: str, app: str | None) -> bool:
    """Insert the run of one tick, ENQUEUED on the schedule's queue (the internal queue by default), owned by
    the schedule's application (``app``, the firing one, for an unclaimed schedule). Returns False when a
    workflow with this ID already exists (another process fired the tick first)."""
    reg = lookup_workflow(plan.workflow_name)
    fmt = reg.serialization if reg is not None else WorkflowSerializationFormat.DEFAULT
    if plan.classic:
        args: tuple[Any, ...] = (at, datetime.fromtimestamp(rt.clock.now(), tz=timezone.utc))
    else:
        args = (at, deserialize(plan.context) if plan.context is not None else None)
    if fmt is WorkflowSerializationFormat.PORTABLE:
        args = (at.isoformat(), *args[1:])  # the run turns it back into a datetime (engine/queues.py)
    now_us = rt.clock.now_us()
    now = now_us // 1000
    status = WorkflowStatusString.ENQUEUED.value
    row = WorkflowRow(workflow_uuid=workflow_id, status=status, name=plan.workflow_name,
                      inputs=encode_inputs(args, {}, fmt), application_version=rt.application_version or None,
                      created_at=now, created_at_us=now_us, updated_at=now,
                      queue_name=plan.queue_name or INTERNAL_QUEUE,
                      serialization=fmt.value, schedule_name=plan.name, class_name=plan.class_name,
                      application_name=plan.owner if plan.owner is not None else app)
    created, _ = await rt.io(rt.store.insert_workflow, row)
    if created:
        rt.notify("wf", workflow_id, status)
    return created


# -- the timer -----------------------------------------------------------------------------------------
@dataclass
class _Armed:
    plan: Plan
    next_at: datetime


async def _arm(rt: Runtime, armed: dict[str, _Armed]) -> dict[str, _Armed]:
    """The schedules this process fires now: keep those whose definition did not change, arm new ones
    (backfilling those that ask for it), drop paused and deleted ones."""
    now = datetime.fromtimestamp(rt.clock.now(), tz=timezone.utc)
    plans = [p for p in _classic.values() if lookup_workflow(p.workflow_name) is not None]
    for row in await rt.io(rt.store.list_schedules, status=[ScheduleStatus.ACTIVE], owners=[rt.settings.name]):
        if lookup_workflow(row.workflow_name) is None:
            continue
        try:
            plans.append(Plan.of(row))
        except TetherError:  # a time zone this machine does not know
            logger.error("Schedule %r has an unknown time zone %r", row.schedule_name, row.cron_timezone)
    out: dict[str, _Armed] = {}
    for plan in plans:
        key = ("classic:" if plan.classic else "") + plan.name
        old = armed.get(key)
        if old is not None and old.plan.signature == plan.signature:
            out[key] = old
            continue
        if old is None and plan.automatic_backfill and plan.last_fired_ms is not None:
            since = datetime.fromtimestamp(plan.last_fired_ms / 1000, tz=timezone.utc)
            missed = cron.ticks_between(plan.expression, plan.tz, since, now, limit=MAX_BACKFILL)
            if len(missed) == MAX_BACKFILL:
                logger.warning("Schedule %r missed more than %d ticks; backfilling the oldest %d (use "
                               "backfill_schedule for the rest)", plan.name, MAX_BACKFILL, MAX_BACKFILL)
            for at in missed:
                await _fire_tick(rt, plan, at)
        out[key] = _Armed(plan, cron.next_tick(plan.expression, plan.tz, now))
    return out


async def _fire_tick(rt: Runtime, plan: Plan, at: datetime) -> None:
    wfid = cron.tick_workflow_id(plan.name, at)
    await fire(rt, plan, at, wfid, rt.settings.name)
    if not plan.classic:
        await rt.io(rt.store.record_tick, plan.name, at.isoformat(), int(at.timestamp() * 1000))


async def _fire_due(rt: Runtime, armed: dict[str, _Armed]) -> None:
    now = datetime.fromtimestamp(rt.clock.now(), tz=timezone.utc)
    for entry in armed.values():
        fired = 0
        while entry.next_at <= now and fired < MAX_TICKS_PER_PASS:
            try:
                await _fire_tick(rt, entry.plan, entry.next_at)
            except TetherError:
                logger.exception("Schedule %r could not start its run for %s", entry.plan.name,
                                 entry.next_at.isoformat())
            entry.next_at = cron.next_tick(entry.plan.expression, entry.plan.tz, entry.next_at)
            fired += 1


async def run_scheduler(rt: Runtime) -> None:
    """The timer of every schedule in this process; runs until cancelled (at ``Runtime.close``)."""
    loop = asyncio.get_running_loop()
    armed: dict[str, _Armed] = {}
    reload = True
    reloaded_at = loop.time()
    while not rt.destroyed:
        waiter = rt.hub.register([SCHEDULE_KEY])  # before reading, so no change falls between read and wait
        try:
            try:
                if reload:
                    armed = await _arm(rt, armed)
                    reloaded_at = loop.time()
                await _fire_due(rt, armed)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: try again soon
                if rt.destroyed:
                    return
                logger.exception("Scheduler pass failed")
                await asyncio.sleep(1.0)
                continue
            timeout = RELOAD_SECONDS - (loop.time() - reloaded_at)
            if armed:
                soonest = min(e.next_at for e in armed.values())
                timeout = min(timeout, soonest.timestamp() - rt.clock.now())
            woken = await rt.hub.wait(waiter, max(0.0, timeout))
            reload = woken or loop.time() - reloaded_at >= RELOAD_SECONDS
        finally:
            rt.hub.unregister(waiter)


def start_scheduler(rt: Runtime) -> None:
    """Start this process's schedule timer on the runtime's background loop."""
    rt.submit_to_loop(run_scheduler(rt))


class ScheduleStatus:
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
