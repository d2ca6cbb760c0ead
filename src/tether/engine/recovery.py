"""Resuming this executor's PENDING workflows after a crash, from their last checkpoint."""

from __future__ import annotations

from tether.engine.registry import lookup_workflow
from tether.engine.runtime import Runtime, logger
from tether.engine.workflows import Start, decode_inputs, launch_in_background
from tether.types import WorkflowStatusString


def recover_pending_workflows(rt: Runtime) -> list[str]:
    """Start every PENDING workflow of this executor and application version again, in the background.

    Returns the IDs resumed. Workflows whose function is not registered here are left alone (logged).
    """
    resumed = []
    ids = rt.store.pending_workflow_ids(rt.settings.executor_id, rt.application_version)
    for wfid in ids:
        if wfid in rt.active:
            continue
        if resume_execution(rt, wfid, count_attempt=True):
            resumed.append(wfid)
    return resumed


def resume_execution(rt: Runtime, wfid: str, *, count_attempt: bool) -> bool:
    """Run a PENDING workflow from its checkpoints; False if it cannot (unknown, ended, out of attempts)."""
    row = rt.store.get_workflow(wfid, load_input=False, load_output=False)
    if row is None:
        return False
    reg = lookup_workflow(row.name)
    if reg is None:
        logger.warning("Cannot recover workflow %s: function %r is not registered", wfid, row.name)
        return False
    max_attempts = reg.max_recovery_attempts if count_attempt else None
    full = rt.store.begin_recovery(wfid, max_attempts, rt.clock.now_ms())
    if full is None:
        return False
    if full.status == WorkflowStatusString.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value:
        logger.error("Workflow %s exceeded its %d recovery attempts", wfid, reg.max_recovery_attempts)
        rt.notify("wf", wfid, full.status)
        return False
    recorded = {op.function_id: op for op in rt.store.load_operations(wfid)}
    args, kwargs = decode_inputs(full.inputs)
    launch_in_background(rt, Start(wfid, True, reg, args, kwargs, recorded))
    return True
