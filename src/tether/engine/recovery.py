"""Resuming PENDING workflows from their last checkpoint: this executor's at launch (after a crash), and those
this process adopted from dead processes (``engine/heartbeat.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tether.engine import tracing
from tether.engine.auth import decode_roles
from tether.engine.inputs import execution_args
from tether.engine.queues import dispatch
from tether.engine.registry import lookup_workflow
from tether.engine.runtime import Runtime, logger
from tether.engine.starts import Start
from tether.engine.workflows import launch_in_background
from tether.errors import TetherError
from tether.storage.base import WorkflowFilter, WorkflowRow
from tether.types import WorkflowStatusString


def recover_pending_workflows(rt: Runtime) -> list[str]:
    """Start every PENDING workflow of this executor and application version again, in the background,
    except those a live process owns (another process may share the executor ID: it keeps its own).

    A few statements however many there are: list them, count an attempt on each (returning their inputs),
    load their checkpoints. Returns the IDs resumed. Workflows whose function is not registered here are left
    alone (logged); those past their ``max_recovery_attempts`` end as MAX_RECOVERY_ATTEMPTS_EXCEEDED.
    """
    pending = rt.store.list_workflows(WorkflowFilter(
        status=[WorkflowStatusString.PENDING.value], executor_id=[rt.settings.executor_id],
        app_version=[rt.application_version], load_input=False, load_output=False))
    with rt.start_lock:
        return _recover(rt, [row for row in pending if row.workflow_uuid not in rt.active])


def recover_workflows(rt: Runtime, workflow_ids: Sequence[str], *, previous_owner: str | None = None
                      ) -> list[str]:
    """Resume these PENDING workflows here, if they have no owner or this process (or ``previous_owner``)
    owns them; they are then owned by this process. An execution of one still stopping here (preempted,
    inside a step) finishes first. Returns the IDs resumed."""
    if not workflow_ids:
        return []
    rows = rt.store.list_workflows(WorkflowFilter(workflow_ids=list(workflow_ids), load_input=False,
                                                  load_output=False))
    with rt.start_lock:
        return _recover(rt, rows, previous_owner)


def _recover(rt: Runtime, rows: list[WorkflowRow], previous_owner: str | None = None) -> list[str]:
    """Claim ``rows`` and run them here; called holding ``rt.start_lock``, so that two recoveries at once
    (launch's and an adoption's), or a recovery and a dispatch of a workflow just claimed here, cannot both
    find a workflow not yet active here and both start it."""
    known = []
    for row in rows:
        if lookup_workflow(row.name) is None:
            logger.warning("Cannot recover workflow %s: function %r is not registered", row.workflow_uuid, row.name)
        else:
            known.append(row.workflow_uuid)
    rows = rt.store.begin_recovery_many(known, rt.clock.now_ms(), previous_owner=previous_owner)
    exceeded = []
    runnable = []
    for row in rows:
        reg = lookup_workflow(row.name)
        assert reg is not None
        if row.recovery_attempts > reg.max_recovery_attempts + 1:  # the first execution is attempt 1
            exceeded.append(row.workflow_uuid)
        else:
            runnable.append((row, reg))
    if exceeded:
        now_us = rt.clock.now_us()
        status = WorkflowStatusString.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value
        for wfid in rt.store.set_status(exceeded, status, now_us // 1000, now_us=now_us,
                                        only_from=[WorkflowStatusString.PENDING.value]):
            logger.error("Workflow %s exceeded its maximum recovery attempts", wfid)
            rt.notify("wf", wfid, status)
    still_running = [(row, reg) for row, reg in runnable if row.workflow_uuid in rt.active]
    runnable = [(row, reg) for row, reg in runnable if row.workflow_uuid not in rt.active]
    for row, _ in still_running:  # dispatch waits for the stopping execution to end, on the runtime's loop
        asyncio.run_coroutine_threadsafe(dispatch(rt, row), rt.loop)
    operations = rt.store.load_operations_many([row.workflow_uuid for row, _ in runnable])
    launched = []
    for row, reg in runnable:
        rt.cancelled.discard(row.workflow_uuid)
        rt.preempted.discard(row.workflow_uuid)
        try:
            args, kwargs = execution_args(row)
        except TetherError as exc:
            logger.warning("Cannot recover workflow %s: %s", row.workflow_uuid, exc)
            continue
        launched.append(row.workflow_uuid)
        # Running here from now on, not only once its thread or task has begun: a recovery right after this
        # one (launch adopts this executor's dead process, then recovers its PENDING workflows) must not
        # start it a second time.
        rt.active[row.workflow_uuid] = True
        recorded = {op.function_id: op for op in operations.get(row.workflow_uuid, [])}
        launch_in_background(rt, Start(row.workflow_uuid, True, reg, args, kwargs, recorded,
                                       row.workflow_deadline_epoch_ms, from_storage=True,
                                       trace_context=tracing.stored_context(row.trace_context, row.attributes),
                                       queue_name=row.queue_name, authenticated_user=row.authenticated_user,
                  authenticated_roles=decode_roles(row.authenticated_roles), assumed_role=row.assumed_role))
    return launched + [row.workflow_uuid for row, _ in still_running]
