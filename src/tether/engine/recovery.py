"""Resuming this executor's PENDING workflows after a crash, from their last checkpoint."""

from __future__ import annotations

from tether.engine.registry import lookup_workflow
from tether.engine.runtime import Runtime, logger
from tether.engine.workflows import Start, execution_args, launch_in_background
from tether.errors import TetherError
from tether.storage.base import WorkflowFilter
from tether.types import WorkflowStatusString


def recover_pending_workflows(rt: Runtime) -> list[str]:
    """Start every PENDING workflow of this executor and application version again, in the background.

    A few statements however many there are: list them, count an attempt on each (returning their inputs),
    load their checkpoints. Returns the IDs resumed. Workflows whose function is not registered here are left
    alone (logged); those past their ``max_recovery_attempts`` end as MAX_RECOVERY_ATTEMPTS_EXCEEDED.
    """
    pending = rt.store.list_workflows(WorkflowFilter(
        status=[WorkflowStatusString.PENDING.value], executor_id=[rt.settings.executor_id],
        app_version=[rt.application_version], load_input=False, load_output=False))
    known = []
    for row in pending:
        if row.workflow_uuid in rt.active:
            continue
        if lookup_workflow(row.name) is None:
            logger.warning("Cannot recover workflow %s: function %r is not registered", row.workflow_uuid, row.name)
        else:
            known.append(row.workflow_uuid)
    rows = rt.store.begin_recovery_many(known, rt.clock.now_ms())
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
        now = rt.clock.now_ms()
        status = WorkflowStatusString.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value
        for wfid in rt.store.set_status(exceeded, status, now, only_from=[WorkflowStatusString.PENDING.value]):
            logger.error("Workflow %s exceeded its maximum recovery attempts", wfid)
            rt.notify("wf", wfid, status)
    operations = rt.store.load_operations_many([row.workflow_uuid for row, _ in runnable])
    launched = []
    for row, reg in runnable:
        try:
            args, kwargs = execution_args(row)
        except TetherError as exc:
            logger.warning("Cannot recover workflow %s: %s", row.workflow_uuid, exc)
            continue
        launched.append(row.workflow_uuid)
        recorded = {op.function_id: op for op in operations.get(row.workflow_uuid, [])}
        launch_in_background(rt, Start(row.workflow_uuid, True, reg, args, kwargs, recorded,
                                       row.workflow_deadline_epoch_ms, from_storage=True))
    return launched
