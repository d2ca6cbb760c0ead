"""Patching: changing a workflow's code while executions started by the old code may still be recovered.

``patch(name)`` marks the new code path in history. A new execution (or one past the end of its recorded
history) records the marker and takes the new path (True). An execution recovered from history recorded by
old code finds some other checkpoint at this point and takes the old path (False) without consuming it, so the
old operation replays at the same position. ``deprecate_patch(name)`` is for the code that follows once no old
executions remain: it steps over a marker recorded by the patched code, and records nothing.
"""

from __future__ import annotations

from tether.engine.context import require_workflow
from tether.storage.base import OperationRow
from tether.storage.checkpoints import RecordOperation


def marker_name(patch_name: str) -> str:
    return f"DBOS.patch-{patch_name}"


async def patch(patch_name: str) -> bool:
    """True: take the patched path (the marker is here or was just recorded); False: take the old one.

    Raises:
        NotInWorkflowError: not called from a workflow.
    """
    ctx = require_workflow("DBOS.patch")
    marker = marker_name(patch_name)
    rec = ctx.recorded.get(ctx.last_function_id + 1)
    if rec is not None:
        if rec.function_name != marker:
            return False
        ctx.next_function_id()
        return True
    fid = ctx.next_function_id()
    rt = ctx.runtime
    now = rt.clock.now_ms()
    prior = await rt.checkpoint(RecordOperation(ctx.workflow_id, OperationRow(
        function_id=fid, function_name=marker, started_at=now, completed_at=now)))
    if prior is not None and prior.function_name != marker:
        ctx.last_function_id -= 1  # another execution recorded something else here: old path, id not taken
        return False
    return True


async def deprecate_patch(patch_name: str) -> bool:
    """Step over the marker of ``patch_name`` if history has it at this point. Always True.

    Raises:
        NotInWorkflowError: not called from a workflow.
    """
    ctx = require_workflow("DBOS.deprecate_patch")
    rec = ctx.recorded.get(ctx.last_function_id + 1)
    if rec is not None and rec.function_name == marker_name(patch_name):
        ctx.next_function_id()
    return True
