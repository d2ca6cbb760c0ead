"""Durable schedules on ``DBOS`` and ``DBOSClient``, with DBOS 3.4's API.

    @DBOS.workflow()
    def nightly(scheduled_at: datetime, context: Any) -> None: ...

    DBOS.create_schedule(schedule_name="nightly", workflow_fn=nightly, schedule="0 2 * * *",
                         cron_timezone="Europe/Paris", context={"region": "eu"})

A schedule lives in the database: every process sees it, and a pause, resume, new definition or delete
takes effect in every process at once. Each tick starts one workflow, whatever the number of processes. The
methods shared by ``DBOS`` and ``DBOSClient`` are written once (:class:`ScheduleManagement`); inside a
workflow, ``DBOS``'s schedule calls are checkpointed as steps (``DBOS.createSchedule`` and so on).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypedDict, TypeVar

from tether.api.binding import _application_of
from tether.api.handles import WorkflowHandle, WorkflowHandleAsync
from tether.api.management import _as_list, _either, _runtime_of
from tether.engine import cron, queue_settings, validation
from tether.engine import schedules as ops
from tether.engine.bridge import run_sync
from tether.engine.context import current_workflow
from tether.engine.queues import registered_queue
from tether.engine.registry import WORKFLOW_ATTR, StepPolicy, lookup_workflow, registered_class_name
from tether.engine.runtime import Runtime
from tether.engine.steps import run_step_async
from tether.errors import InvalidScheduleError
from tether.serialization import serialize
from tether.storage.base import ScheduleRow
from tether.types import WorkflowSchedule

T = TypeVar("T")
ScheduledWorkflow = Callable[[datetime, Any], None] | Callable[[datetime, Any], Awaitable[None]]
StrOrList = str | list[str] | None



class ScheduleInput(TypedDict, total=False):
    """One schedule for ``DBOS.apply_schedules``: ``schedule_name``, ``workflow_fn`` and ``schedule`` are
    required; ``context`` (default None), ``automatic_backfill`` (False), ``cron_timezone`` (UTC) and
    ``queue_name`` (the internal queue) are optional."""

    schedule_name: str
    workflow_fn: ScheduledWorkflow
    schedule: str
    context: Any
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None


class ClientScheduleInput(TypedDict, total=False):
    """One schedule for ``DBOSClient.apply_schedules``: the workflow is named (``workflow_name``, and
    ``workflow_class_name`` for a class method) instead of passed; ``application_name`` owns it (default:
    the client's own application; None: no application)."""

    schedule_name: str
    workflow_name: str
    workflow_class_name: str | None
    schedule: str
    context: Any
    automatic_backfill: bool
    cron_timezone: str | None
    queue_name: str | None
    application_name: str | None


def _definition(*, schedule_name: Any, workflow_name: str, workflow_class_name: str | None, schedule: Any,
                context: Any, automatic_backfill: bool, cron_timezone: str | None, queue_name: str | None,
                check_queue: bool, now_ms: int, owner: str | None) -> ScheduleRow:
    """A checked schedule row, owned by application ``owner`` (None: unclaimed); nothing is written before
    every check passed.

    Raises:
        InvalidScheduleError: a bad name, cron expression, time zone or (in an application) queue.
        ArgumentTypeError, InvalidArgumentError: ``owner`` is not acceptable text.
        SerializationError: the context cannot be stored.
    """
    if not isinstance(schedule_name, str) or not schedule_name:
        raise InvalidScheduleError("A schedule needs a non-empty schedule_name")
    cron.check_cron(schedule)
    cron.zone(cron_timezone)
    validation.optional_text(owner, "application_name")
    if check_queue and queue_name is not None and registered_queue(queue_name) is None \
            and not queue_settings.is_known(queue_name):
        raise InvalidScheduleError(
            f"Queue '{queue_name}' is not declared. Please create the queue before using it in a schedule.")
    return ScheduleRow(schedule_id=str(uuid.uuid4()), schedule_name=schedule_name, workflow_name=workflow_name,
                       workflow_class_name=workflow_class_name, schedule=schedule, context=serialize(context),
                       automatic_backfill=int(bool(automatic_backfill)), cron_timezone=cron_timezone,
                       queue_name=queue_name, updated_at=now_ms, application_name=owner)


def _workflow_of(func: Any) -> tuple[str, str | None]:
    """The registered name of a workflow function (and its class's name for a class method).

    Raises:
        InvalidScheduleError: not a registered workflow, or a method bound to an instance.
    """
    target = func
    class_name = None
    if inspect.ismethod(func):
        if not isinstance(func.__self__, type):
            raise InvalidScheduleError("Configured instance methods cannot be used as scheduled workflows")
        class_name = registered_class_name(func.__self__) or func.__self__.__qualname__
        target = func.__func__
    reg = getattr(target, WORKFLOW_ATTR, None)
    name = str(getattr(reg, "name", None) or getattr(target, "__qualname__", repr(target)))
    if reg is None or lookup_workflow(name) is None:
        raise InvalidScheduleError(f"Workflow function '{name}' is not registered")
    return name, class_name


def _outside_workflow(what: str) -> None:
    if current_workflow() is not None:
        raise InvalidScheduleError(f"DBOS.{what} cannot be called from within a workflow")


async def _as_step(name: str, fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn``; inside a workflow as a checkpointed step named ``name`` (replayed on recovery and fork)."""
    return await run_step_async(StepPolicy(name), fn, (), {})


class ScheduleManagement:
    """Schedule methods shared by ``DBOS`` and ``DBOSClient``; each has a ``*_async`` twin."""

    @_either
    async def list_schedules_async(self, *, status: StrOrList = None, workflow_name: StrOrList = None,
                                   schedule_name_prefix: StrOrList = None, application_name: StrOrList = None
                                   ) -> list[WorkflowSchedule]:
        """Coroutine form of :meth:`list_schedules`."""
        rt = _runtime_of(self)
        owners = _as_list(application_name)
        if owners is None:
            own = _application_of(self)
            owners = [own] if own is not None else None
        return await _as_step("DBOS.listSchedules", lambda: ops.list_schedules(
            rt, status=_as_list(status), workflow_name=_as_list(workflow_name),
            name_prefix=_as_list(schedule_name_prefix), owners=owners))

    @_either
    def list_schedules(self, *, status: StrOrList = None, workflow_name: StrOrList = None,
                       schedule_name_prefix: StrOrList = None, application_name: StrOrList = None
                       ) -> list[WorkflowSchedule]:
        """The schedules, by name; filtered by status (``ACTIVE``/``PAUSED``), workflow name and name
        prefix (each a value or a list of values). Only those of ``application_name`` (one or a list) and
        the unclaimed ones are listed; by default this application's (a ``DBOSClient``'s: its
        ``application_name``'s, or every application's when it has none).

        Raises:
            NotLaunchedError: DBOS is not launched.
        """
        return run_sync(self.list_schedules_async(status=status, workflow_name=workflow_name,
                                                  schedule_name_prefix=schedule_name_prefix,
                                                  application_name=application_name))

    @_either
    async def get_schedule_async(self, name: str) -> WorkflowSchedule | None:
        """Coroutine form of :meth:`get_schedule`."""
        rt = _runtime_of(self)
        return await _as_step("DBOS.getSchedule", lambda: ops.get_schedule(rt, name))

    @_either
    def get_schedule(self, name: str) -> WorkflowSchedule | None:
        """The schedule of this name, or None."""
        return run_sync(self.get_schedule_async(name))

    @_either
    async def delete_schedule_async(self, name: str) -> None:
        """Coroutine form of :meth:`delete_schedule`."""
        rt = _runtime_of(self)
        await _as_step("DBOS.deleteSchedule", lambda: ops.delete(rt, name))

    @_either
    def delete_schedule(self, name: str) -> None:
        """Delete a schedule (no error if there is none); its past runs are kept."""
        run_sync(self.delete_schedule_async(name))

    @_either
    async def pause_schedule_async(self, name: str) -> None:
        """Coroutine form of :meth:`pause_schedule`."""
        rt = _runtime_of(self)
        await _as_step("DBOS.pauseSchedule", lambda: ops.set_status(rt, name, ops.ScheduleStatus.PAUSED))

    @_either
    def pause_schedule(self, name: str) -> None:
        """Stop a schedule firing, in every process, until it is resumed."""
        run_sync(self.pause_schedule_async(name))

    @_either
    async def resume_schedule_async(self, name: str) -> None:
        """Coroutine form of :meth:`resume_schedule`."""
        rt = _runtime_of(self)
        await _as_step("DBOS.resumeSchedule",
                       lambda: ops.set_status(rt, name, ops.ScheduleStatus.ACTIVE))

    @_either
    def resume_schedule(self, name: str) -> None:
        """Let a paused schedule fire again (from its next tick; with ``automatic_backfill`` the ticks
        missed while paused are started first)."""
        run_sync(self.resume_schedule_async(name))

    @_either
    async def trigger_schedule_async(self, schedule_name: str) -> WorkflowHandleAsync[None]:
        """Coroutine form of :meth:`trigger_schedule`."""
        _outside_workflow("trigger_schedule")
        rt = _runtime_of(self)
        return WorkflowHandleAsync(rt, await ops.trigger(rt, schedule_name, _application_of(self)))

    @_either
    def trigger_schedule(self, schedule_name: str) -> WorkflowHandle[None]:
        """Start one run of a schedule now (scheduled time: now), on its queue.

        Raises:
            ScheduleNotFoundError: no schedule has this name.
            InvalidScheduleError: called inside a workflow.
        """
        _outside_workflow("trigger_schedule")
        rt = _runtime_of(self)
        return WorkflowHandle(rt, run_sync(ops.trigger(rt, schedule_name, _application_of(self))))

    @_either
    async def backfill_schedule_async(self, schedule_name: str, start: datetime, end: datetime
                                      ) -> list[WorkflowHandleAsync[None]]:
        """Coroutine form of :meth:`backfill_schedule`."""
        _outside_workflow("backfill_schedule")
        rt = _runtime_of(self)
        return [WorkflowHandleAsync(rt, i)
                for i in await ops.backfill(rt, schedule_name, start, end, _application_of(self))]

    @_either
    def backfill_schedule(self, schedule_name: str, start: datetime, end: datetime) -> list[WorkflowHandle[None]]:
        """Start the runs of every tick strictly between ``start`` and ``end`` (naive times are UTC), under
        the IDs the schedule's timer uses, so a tick that already ran is not run again.

        Raises:
            ScheduleNotFoundError: no schedule has this name.
            InvalidScheduleError: called inside a workflow.
        """
        _outside_workflow("backfill_schedule")
        rt = _runtime_of(self)
        return [WorkflowHandle(rt, i)
                for i in run_sync(ops.backfill(rt, schedule_name, start, end, _application_of(self)))]


async def _create(rt: Runtime, row: ScheduleRow) -> None:
    await _as_step("DBOS.createSchedule", lambda: ops.put(rt, [row], replace=False))


class ScheduleAPI(ScheduleManagement):
    """The schedule methods of ``DBOS`` (bound onto it as a mixin): workflows are passed as functions."""

    @classmethod
    async def create_schedule_async(cls, *, schedule_name: str, workflow_fn: ScheduledWorkflow, schedule: str,
                                    context: Any = None, automatic_backfill: bool = False,
                                    cron_timezone: str | None = None, queue_name: str | None = None,
                                    shard_key: str | None = None) -> None:
        """Coroutine form of :meth:`create_schedule`."""
        rt = _runtime_of(cls)
        name, class_name = _workflow_of(workflow_fn)
        row = _definition(schedule_name=schedule_name, workflow_name=name, workflow_class_name=class_name,
                          schedule=schedule, context=context, automatic_backfill=automatic_backfill,
                          cron_timezone=cron_timezone, queue_name=queue_name, check_queue=True,
                          now_ms=rt.clock.now_ms(), owner=rt.settings.name)
        await _create(rt, row)

    @classmethod
    def create_schedule(cls, *, schedule_name: str, workflow_fn: ScheduledWorkflow, schedule: str,
                        context: Any = None, automatic_backfill: bool = False, cron_timezone: str | None = None,
                        queue_name: str | None = None, shard_key: str | None = None) -> None:
        """Run ``workflow_fn(scheduled_at, context)`` on the cron ``schedule`` (five fields, or six with
        seconds first), in ``cron_timezone`` (IANA name; default UTC), on ``queue_name`` (default: the
        internal queue). With ``automatic_backfill``, a launch starts the ticks missed while no process ran.
        ``shard_key`` is accepted and ignored (the database is not sharded).

        Raises:
            InvalidScheduleError: a bad cron expression or time zone, an undeclared queue, a function that
                is not a registered workflow, or a method bound to an instance.
            ScheduleExistsError: a schedule of this name exists (``apply_schedules`` replaces instead).
            SerializationError: ``context`` cannot be stored.
        """
        run_sync(cls.create_schedule_async(
            schedule_name=schedule_name, workflow_fn=workflow_fn, schedule=schedule, context=context,
            automatic_backfill=automatic_backfill, cron_timezone=cron_timezone, queue_name=queue_name))

    @classmethod
    async def apply_schedules_async(cls, schedules: list[ScheduleInput]) -> None:
        """Coroutine form of :meth:`apply_schedules`."""
        _outside_workflow("apply_schedules")
        rt = _runtime_of(cls)
        rows = []
        for i, entry in enumerate(schedules):
            for required in ("schedule_name", "workflow_fn", "schedule"):
                if required not in entry:
                    raise InvalidScheduleError(f"Schedule entry {i} is missing required field '{required}'")
            name, class_name = _workflow_of(entry["workflow_fn"])
            rows.append(_definition(
                schedule_name=entry["schedule_name"], workflow_name=name, workflow_class_name=class_name,
                schedule=entry["schedule"], context=entry.get("context"),
                automatic_backfill=entry.get("automatic_backfill", False),
                cron_timezone=entry.get("cron_timezone"), queue_name=entry.get("queue_name"), check_queue=True,
                now_ms=rt.clock.now_ms(), owner=rt.settings.name))
        await ops.put(rt, rows, replace=True)

    @classmethod
    def apply_schedules(cls, schedules: list[ScheduleInput]) -> None:
        """Create or redefine several schedules at once (one transaction; a redefined schedule keeps its ID,
        status and last tick). Safe to run from every process at launch.

        Raises:
            InvalidScheduleError: an entry misses a required field or fails a check of
                :meth:`create_schedule`; or called inside a workflow. Nothing is written then.
        """
        run_sync(cls.apply_schedules_async(schedules))

    @staticmethod
    def scheduled(cron_expression: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """The classic form: decorate a workflow (above ``@DBOS.workflow()``) to run it with (scheduled
        time, actual time) on ``cron_expression`` (UTC), in every process that defines it; each tick runs
        once however many processes do.

        Raises:
            InvalidScheduleError: ``cron_expression`` is not a valid cron expression.
        """
        cron.check_cron(cron_expression)

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            reg = getattr(func, WORKFLOW_ATTR, None)
            ops.register_classic(reg.name if reg is not None else func.__qualname__, cron_expression)
            return func

        return decorate


class ClientSchedules(ScheduleManagement):
    """The schedule methods of ``DBOSClient``: workflows are named, not passed."""

    async def create_schedule_async(self, *, schedule_name: str, workflow_name: str, schedule: str,
                                    context: Any = None, automatic_backfill: bool = False,
                                    cron_timezone: str | None = None, queue_name: str | None = None,
                                    workflow_class_name: str | None = None, application_name: str | None = None,
                                    shard_key: str | None = None) -> None:
        """Coroutine form of :meth:`create_schedule`."""
        rt = _runtime_of(self)
        row = _definition(schedule_name=schedule_name, workflow_name=workflow_name,
                          workflow_class_name=workflow_class_name, schedule=schedule, context=context,
                          automatic_backfill=automatic_backfill, cron_timezone=cron_timezone,
                          queue_name=queue_name, check_queue=False, now_ms=rt.clock.now_ms(),
                          owner=application_name if application_name is not None else _application_of(self))
        await ops.put(rt, [row], replace=False)

    def create_schedule(self, *, schedule_name: str, workflow_name: str, schedule: str, context: Any = None,
                        automatic_backfill: bool = False, cron_timezone: str | None = None,
                        queue_name: str | None = None, workflow_class_name: str | None = None,
                        application_name: str | None = None, shard_key: str | None = None) -> None:
        """Create a schedule of the workflow registered as ``workflow_name`` (see ``DBOS.create_schedule``),
        owned by ``application_name`` (default: the client's own); the processes of that application that
        register the workflow fire it. A schedule of no application (neither given) is fired by every
        application that registers the workflow.

        Raises:
            InvalidScheduleError: a bad cron expression or time zone.
            ArgumentTypeError, InvalidArgumentError: ``application_name`` is not acceptable text.
            ScheduleExistsError: a schedule of this name exists.
        """
        run_sync(self.create_schedule_async(
            schedule_name=schedule_name, workflow_name=workflow_name, schedule=schedule, context=context,
            automatic_backfill=automatic_backfill, cron_timezone=cron_timezone, queue_name=queue_name,
            workflow_class_name=workflow_class_name, application_name=application_name))

    async def apply_schedules_async(self, schedules: list[ClientScheduleInput]) -> None:
        """Coroutine form of :meth:`apply_schedules`."""
        rt = _runtime_of(self)
        rows = []
        for i, entry in enumerate(schedules):
            for required in ("schedule_name", "workflow_name", "schedule"):
                if required not in entry:
                    raise InvalidScheduleError(f"Schedule entry {i} is missing required field '{required}'")
            rows.append(_definition(
                schedule_name=entry["schedule_name"], workflow_name=entry["workflow_name"],
                workflow_class_name=entry.get("workflow_class_name"), schedule=entry["schedule"],
                context=entry.get("context"), automatic_backfill=entry.get("automatic_backfill", False),
                cron_timezone=entry.get("cron_timezone"), queue_name=entry.get("queue_name"), check_queue=False,
                now_ms=rt.clock.now_ms(), owner=entry.get("application_name", _application_of(self))))
        await ops.put(rt, rows, replace=True)

    def apply_schedules(self, schedules: list[ClientScheduleInput]) -> None:
        """Create or redefine several schedules at once (see ``DBOS.apply_schedules``).

        Raises:
            InvalidScheduleError: an entry misses a required field or has a bad cron expression or zone.
        """
        run_sync(self.apply_schedules_async(schedules))
