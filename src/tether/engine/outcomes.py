"""Waiting for a workflow's outcome: ``get_result`` outside a workflow (a plain wait, woken by the workflow's
end) and inside one (the checkpointed ``DBOS.getResult`` operation), waiting for a workflow to exist, and
draining this process's running workflows at shutdown."""

from __future__ import annotations

import functools
from typing import Any

from tether.engine import validation
from tether.engine.context import WorkflowContext, current_workflow, workflow_for_operation
from tether.engine.runtime import Runtime
from tether.engine.steps import replay
from tether.engine.waiters import WF_EXISTS
from tether.errors import (
    AwaitedWorkflowCancelledError,
    AwaitedWorkflowMaxRecoveryAttemptsExceeded,
    ConflictingWorkflowError,
    WorkflowNotFoundError,
)
from tether.serialization import deserialize, deserialize_error, serialize, serialize_error
from tether.storage.base import OperationRow, WorkflowRow
from tether.storage.checkpoints import RecordOperation
from tether.types import TERMINAL_STATUSES, WorkflowStatusString


async def read_result(rt: Runtime, workflow_id: str, timeout_s: float | None = None) -> Any:
    """``get_result``: outside a workflow a plain wait (:func:`get_outcome`); inside one the outcome read is
    the operation ``DBOS.getResult`` (naming the awaited workflow), so recovery replays it without waiting.

    Raises:
        AwaitedWorkflowCancelledError, ...: as :func:`get_outcome`; the awaited
            workflow's own error is re-raised.
        TimeoutError: ``timeout_s`` passed first (nothing is recorded then).
    """
    ctx = workflow_for_operation("getResult")
    if ctx is None:
        return await get_outcome(rt, workflow_id, timeout_s)
    fid = ctx.next_function_id()
    rec = ctx.recorded.get(fid)
    if rec is not None and rec.completed_at is not None:
        return replay(rec)
    started = rt.clock.now_ms()
    try:
        value, error = await get_outcome(rt, workflow_id, timeout_s), None
    except TimeoutError:
        raise
    except Exception as exc:
        value, error = None, exc
    return await record_result(ctx, fid, workflow_id, started, value, error)


async def record_result(ctx: WorkflowContext, fid: int, workflow_id: str, started: int, value: Any,
                         error: BaseException | None) -> Any:
    """Checkpoint the read of ``workflow_id``'s outcome as the operation ``DBOS.getResult`` of the calling
    workflow, then return the value or raise the error (the recorded one, if another execution won the race)."""
    rt = ctx.runtime
    row = OperationRow(function_id=fid, function_name="DBOS.getResult", child_workflow_id=workflow_id,
                       started_at=started, completed_at=rt.clock.now_ms())
    if error is None:
        row.output = serialize(value, ctx.serialization)
    else:
        row.error = serialize_error(error, ctx.serialization)
    prior = await rt.checkpoint(RecordOperation(ctx.workflow_id, row))
    if prior is not None:
        return replay(prior)
    if error is not None:
        raise error
    return value


async def get_outcome(rt: Runtime, workflow_id: str, timeout_s: float | None = None, *,
                      own_run: bool = False) -> Any:
    """Wait for a workflow to end and return its result (or raise its error). An ID with no workflow yet is
    waited for, as DBOS does: its creation wakes the wait. ``own_run``: called by a stopped execution of the
    workflow itself (a direct call's), which gives its caller the recorded outcome.

    Raises:
        AwaitedWorkflowCancelledError: the workflow was cancelled.
        AwaitedWorkflowMaxRecoveryAttemptsExceeded: it crashed more often than allowed.
        TimeoutError: ``timeout_s`` passed first.
        ConflictingWorkflowError: a workflow waits for its own outcome (it would wait forever).
        DatabaseUnavailableError: ``timeout_s`` passed while the database was unavailable.
        InvalidArgumentError, ArgumentTypeError: a bad ID or timeout (see :mod:`tether.engine.validation`).
    """
    validation.workflow_id(workflow_id)
    timeout_s = validation.optional_timeout(timeout_s)
    ctx = current_workflow()
    if ctx is not None and ctx.workflow_id == workflow_id and not own_run:
        raise ConflictingWorkflowError(workflow_id, "a workflow cannot wait for its own outcome")
    deadline = None if timeout_s is None else rt.clock.now_ms() + int(timeout_s * 1000)

    async def check() -> WorkflowRow | None:
        row = rt.recent_outcome(workflow_id)
        if row is not None:
            return row
        if workflow_id in rt.active:
            return None  # running here (or stopping after a cancel): its end wakes us
        row = await rt.io_until(deadline, rt.store.get_workflow, workflow_id)
        return row if row is not None and row.status in TERMINAL_STATUSES else None

    row = await rt.wait_until([("wf", workflow_id, "")], check, deadline)
    if row is None:
        raise TimeoutError(f"Workflow {workflow_id!r} did not finish in time")
    return outcome_of(row)


_SUCCESS = WorkflowStatusString.SUCCESS.value  # read once: an enum member's .value is a property call


def outcome_of(row: WorkflowRow) -> Any:
    if row.status == _SUCCESS:
        return deserialize(row.output)
    if row.status == WorkflowStatusString.CANCELLED.value:
        raise AwaitedWorkflowCancelledError(row.workflow_uuid)
    if row.status == WorkflowStatusString.MAX_RECOVERY_ATTEMPTS_EXCEEDED.value:
        raise AwaitedWorkflowMaxRecoveryAttemptsExceeded(row.workflow_uuid, max(0, row.recovery_attempts - 2))
    err = deserialize_error(row.error)
    raise err if err is not None else RuntimeError(f"Workflow {row.workflow_uuid!r} failed")


async def wait_for_workflow(rt: Runtime, workflow_id: str, timeout_s: float | None = None) -> WorkflowRow:
    """Wait until a workflow with this ID exists (for ``retrieve_workflow(existing_workflow=False)``).

    Raises:
        WorkflowNotFoundError: ``timeout_s`` passed first.
        InvalidArgumentError, ArgumentTypeError: a bad ID or timeout.
    """
    validation.workflow_id(workflow_id)
    timeout_s = validation.optional_timeout(timeout_s)
    deadline = None if timeout_s is None else rt.clock.now_ms() + int(timeout_s * 1000)

    async def check() -> WorkflowRow | None:
        return await rt.io_until(deadline, functools.partial(rt.store.get_workflow, load_input=False,
                                                             load_output=False), workflow_id)

    key = ("wf", workflow_id, "")
    row = await rt.wait_until([key], check, deadline, marks={key: WF_EXISTS})
    if row is None:
        raise WorkflowNotFoundError(workflow_id)
    return row


async def drain(rt: Runtime, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` for the workflows running in this process to end (their outcome is ignored)."""
    deadline = rt.clock.now_ms() + int(timeout_s * 1000)
    for workflow_id in list(rt.active):
        remaining = (deadline - rt.clock.now_ms()) / 1000
        if remaining <= 0:
            return
        try:
            await get_outcome(rt, workflow_id, remaining)
        except Exception:  # its own failure, or the time ran out: either way we stop waiting for it
            if rt.clock.now_ms() >= deadline:
                return

