"""Managing workflows from outside them: list, inspect steps, cancel, resume, fork, move a delay.

Cancellation is cooperative: the status becomes CANCELLED at once (so the workflow leaves its queue and counts
against no limit), and the execution, wherever it runs, stops at the start of its next operation (the running
step finishes; nothing after it runs). The process running it learns of it through the 'wf' wake-up: at
once when cancelled in that process, within the listener's latency (LISTEN/NOTIFY, or the SQLite wake-up poll)
when cancelled from another process or a client; a step that ends inside that window is followed by one more.
"""

from __future__ import annotations

from collections.abc import Sequence

from tether.engine import validation
from tether.engine.context import take_assigned_id
from tether.engine.ids import new_workflow_id
from tether.engine.queues import INTERNAL_QUEUE, dispatch
from tether.engine.registry import lookup_workflow
from tether.engine.runtime import ANY_STATUS_KIND, Runtime
from tether.errors import ConflictingWorkflowError, WorkflowNotFoundError
from tether.storage.base import OperationRow, WorkflowFilter, WorkflowRow
from tether.types import WorkflowStatusString

_S = WorkflowStatusString
CANCELLABLE = (_S.PENDING.value, _S.ENQUEUED.value, _S.DELAYED.value)
RESUMABLE = (_S.CANCELLED.value, _S.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value, _S.ENQUEUED.value, _S.DELAYED.value)


async def list_workflows(rt: Runtime, flt: WorkflowFilter) -> list[WorkflowRow]:
    return await rt.io(rt.store.list_workflows, flt)


async def list_steps(rt: Runtime, workflow_id: str, limit: int | None = None,
                     offset: int | None = None) -> list[OperationRow]:
    """The recorded operations of a workflow, by function_id.

    Raises:
        WorkflowNotFoundError: no workflow has this ID.
        InvalidArgumentError, ArgumentTypeError: a bad ID, limit or offset.
    """
    validation.workflow_id(workflow_id)
    limit = validation.optional_count(limit, "limit")
    offset = validation.optional_count(offset, "offset")
    ops = await rt.io(rt.store.load_operations, workflow_id, limit=limit, offset=offset)
    if not ops and await rt.io(rt.store.get_workflow, workflow_id, load_input=False, load_output=False) is None:
        raise WorkflowNotFoundError(workflow_id)
    return ops


async def descendants(rt: Runtime, workflow_ids: Sequence[str]) -> list[str]:
    """Every workflow started, directly or not, by one of ``workflow_ids`` (one indexed query per
    generation), not including those themselves."""
    found: list[str] = []
    seen = set(workflow_ids)
    frontier = list(workflow_ids)
    while frontier:
        rows = await rt.io(rt.store.list_workflows, WorkflowFilter(
            parent_workflow_id=frontier, load_input=False, load_output=False))
        frontier = [r.workflow_uuid for r in rows if r.workflow_uuid not in seen]
        seen.update(frontier)
        found.extend(frontier)
    return found


async def cancel_workflows(rt: Runtime, workflow_ids: Sequence[str], *, cancel_children: bool = False
                           ) -> list[str]:
    """Cancel every listed workflow that has not ended (with ``cancel_children``, their descendants too);
    returns those that were cancelled. Unknown IDs and ended workflows are left as they are.

    Raises:
        InvalidArgumentError, ArgumentTypeError: a bad ID (nothing is cancelled).
    """
    ids = [validation.workflow_id(wfid) for wfid in workflow_ids]
    if cancel_children:
        ids += await descendants(rt, ids)
    now_us = rt.clock.now_us()
    # As DBOS, a cancelled workflow leaves its queue: no queue name, dequeue time (its rate-limiter slot) or
    # deduplication ID.
    changed = await rt.io(rt.store.set_status, ids, _S.CANCELLED.value, now_us // 1000, now_us=now_us,
                          only_from=list(CANCELLABLE), queue_name=None, started_at=None,
                          clear_deduplication_id=True)
    for wfid in changed:
        rt.notify("wf", wfid, _S.CANCELLED.value)  # preempts it here; other processes hear the trigger
    return changed


async def resume_workflows(rt: Runtime, workflow_ids: Sequence[str], queue_name: str | None = None, *,
                           run_here: bool = True) -> list[str]:
    """Continue CANCELLED or MAX_RECOVERY_ATTEMPTS_EXCEEDED workflows from their last checkpoint (and start
    ENQUEUED or DELAYED ones now). With ``queue_name`` they are enqueued there instead. Without it they run
    in this process when ``run_here`` and their function is registered, else any process takes them from the
    internal queue. Workflows that already ended, or are PENDING (running, or awaiting recovery), are left
    alone. A cancelled execution still inside a step in this process finishes that step and stops first; the
    resumed one starts after it. Returns the IDs, in order.

    Raises:
        WorkflowNotFoundError: an ID names no workflow (the ones before it were resumed).
        QueueDeduplicatedError: re-enqueueing would clash with an active workflow's deduplication ID.
        InvalidArgumentError, ArgumentTypeError: a bad ID or queue name (nothing is resumed).
    """
    for wfid in workflow_ids:
        validation.workflow_id(wfid)
    validation.optional_text(queue_name, "queue_name")
    for wfid in workflow_ids:
        row = await rt.io(rt.store.get_workflow, wfid, load_input=False, load_output=False)
        if row is None:
            raise WorkflowNotFoundError(wfid)
        if row.status not in RESUMABLE:
            continue
        now_us = rt.clock.now_us()
        now = now_us // 1000
        local = queue_name is None and run_here and lookup_workflow(row.name) is not None
        if not local:
            changed = await rt.io(rt.store.set_status, [wfid], _S.ENQUEUED.value, now, only_from=list(RESUMABLE),
                                  queue_name=queue_name or INTERNAL_QUEUE, reset_recovery=True, started_at=None,
                                  restart_deadline_at=None)
            if changed:
                rt.notify("wf", wfid, _S.ENQUEUED.value)
            continue
        changed = await rt.io(rt.store.set_status, [wfid], _S.PENDING.value, now, only_from=list(RESUMABLE),
                              queue_name=None, reset_recovery=True, executor_id=rt.settings.executor_id,
                              started_at=now, restart_deadline_at=now, now_us=now_us)
        if not changed:
            continue
        rt.notify("wf", wfid, _S.PENDING.value)
        full = await rt.io(rt.store.get_workflow, wfid)
        if full is not None:
            await dispatch(rt, full)
    return list(workflow_ids)


async def fork_workflow(rt: Runtime, workflow_id: str, start_step: int, application_version: str | None = None,
                        *, run_here: bool = True, new_id: str | None = None, queue_name: str | None = None,
                        timeout_seconds: float | None = None,
                        replacement_children: dict[str, str] | None = None,
                        queue_partition_key: str | None = None) -> str:
    """Start a new workflow with the same inputs as ``workflow_id`` that reuses its checkpoints of the
    operations before ``start_step`` (1-based function IDs), with its events as they were then, and runs the
    rest again. The new workflow's ``forked_from`` names the original (whose ``was_forked_from`` is set).
    It runs in this process when it can (``run_here``, function registered, same application version),
    else any process of that version takes it from the internal queue; with ``queue_name`` it is enqueued
    there. ``timeout_seconds`` replaces the original's timeout; ``replacement_children`` maps child IDs
    recorded before ``start_step`` to the IDs the fork should use instead (forks of those children, say).
    Returns the new ID (``new_id``, the ID a ``SetWorkflowID`` block assigned, or a fresh UUID). A ``new_id``
    that is already a fork of ``workflow_id`` (a retried call) is returned as it is, nothing written.

    Raises:
        WorkflowNotFoundError: no workflow has ``workflow_id``.
        ConflictingWorkflowError: ``new_id`` belongs to another workflow (nothing is written).
        ValueError: a timeout that is not positive.
        InvalidArgumentError, ArgumentTypeError: ``start_step`` is not an int from 0 to 2**63 - 1 (0, as 1,
            reruns every step), or a bad ID.
    """
    validation.workflow_id(workflow_id)
    validation.count(start_step, "start_step")
    validation.optional_text(application_version, "application_version")
    new_id = new_id or take_assigned_id()
    if new_id is not None:
        validation.workflow_id(new_id, "new workflow_id")
    if timeout_seconds is not None and not timeout_seconds > 0:
        raise ValueError(f"Invalid workflow timeout {timeout_seconds}. Timeouts must be positive.")
    src = await rt.io(rt.store.get_workflow, workflow_id, load_output=False)
    if src is None:
        raise WorkflowNotFoundError(workflow_id)
    version = application_version or src.application_version
    local = (queue_name is None and run_here and lookup_workflow(src.name) is not None
             and version in (None, "", rt.application_version))
    now_us = rt.clock.now_us()
    now = now_us // 1000
    timeout_ms = int(timeout_seconds * 1000) if timeout_seconds is not None else src.workflow_timeout_ms
    row = WorkflowRow(
        workflow_uuid=new_id or new_workflow_id(),
        status=_S.PENDING.value if local else _S.ENQUEUED.value,
        name=src.name, class_name=src.class_name, config_name=src.config_name,
        authenticated_user=src.authenticated_user, authenticated_roles=src.authenticated_roles,
        assumed_role=src.assumed_role, inputs=src.inputs,
        executor_id=rt.settings.executor_id, application_version=version, application_id=src.application_id,
        created_at=now, created_at_us=now_us, updated_at=now,
        queue_name=None if local else (queue_name or INTERNAL_QUEUE),
        started_at_epoch_ms=now if local else None, started_at_us=now_us if local else None,
        recovery_attempts=1 if local else 0,  # run here now: this execution counts (a dequeue counts its own)
        workflow_timeout_ms=timeout_ms,
        workflow_deadline_epoch_ms=now + timeout_ms if local and timeout_ms is not None else None,
        forked_from=workflow_id, serialization=src.serialization, attributes=src.attributes,
        application_name=src.application_name, queue_partition_key=queue_partition_key if queue_name else None,
    )
    if not await rt.io(rt.store.fork_workflow, row, workflow_id, start_step, replacement_children):
        taken = await rt.io(rt.store.get_workflow, row.workflow_uuid, load_output=False)
        if taken is not None and taken.forked_from == workflow_id:
            return row.workflow_uuid  # this fork already made (a retried call): nothing more to write
        raise ConflictingWorkflowError(row.workflow_uuid, f"a workflow with this ID exists; a fork of "
                                                          f"{workflow_id} needs an unused ID")
    rt.notify("wf", row.workflow_uuid, row.status)
    if local:
        await dispatch(rt, row)
    return row.workflow_uuid


async def set_workflow_delay(rt: Runtime, workflow_id: str, *, delay_seconds: float | None = None,
                             delay_until_epoch_ms: int | None = None) -> bool:
    """Move the start of a DELAYED workflow; give exactly one of ``delay_seconds`` (from now) and
    ``delay_until_epoch_ms``. Returns False (changing nothing) if the workflow is not DELAYED.

    Raises:
        ValueError: neither or both given, or a negative value.
        WorkflowNotFoundError: no workflow has this ID.
        InvalidArgumentError, ArgumentTypeError: a bad ID, or a delay out of range.
    """
    validation.workflow_id(workflow_id)
    validation.optional_timeout(delay_seconds, "delay_seconds")
    validation.optional_count(delay_until_epoch_ms, "delay_until_epoch_ms")
    if (delay_seconds is None) == (delay_until_epoch_ms is None):
        raise ValueError("Give exactly one of delay_seconds and delay_until_epoch_ms")
    now = rt.clock.now_ms()
    if delay_seconds is not None:
        if delay_seconds < 0:
            raise ValueError("delay_seconds must be non-negative")
        until = now + int(delay_seconds * 1000)
    else:
        assert delay_until_epoch_ms is not None
        if delay_until_epoch_ms < 0:
            raise ValueError("delay_until_epoch_ms must be non-negative")
        until = int(delay_until_epoch_ms)
    if await rt.io(rt.store.set_delay, workflow_id, until, now):
        rt.hub.notify(ANY_STATUS_KIND, "*", _S.DELAYED.value)  # this process's runner re-plans at once
        return True
    if await rt.io(rt.store.get_workflow, workflow_id, load_input=False, load_output=False) is None:
        raise WorkflowNotFoundError(workflow_id)
    return False


async def delete_workflows(rt: Runtime, workflow_ids: Sequence[str], *, delete_children: bool = False) -> None:
    """Delete workflows and everything recorded for them (checkpoints, messages, events, streams); with
    ``delete_children``, their descendants too. Unknown IDs are ignored."""
    ids = list(workflow_ids)
    if delete_children:
        ids += await descendants(rt, ids)
    await rt.io(rt.store.delete_workflows, ids)
