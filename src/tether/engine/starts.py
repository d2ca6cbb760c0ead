"""Starting a workflow: the checks, the row a start writes, and writing it (a child's start also checkpointed in
its parent). A start is durable before anything runs: the row (inputs, status PENDING, ENQUEUED or DELAYED) is
inserted first, and an ID that already exists is never run again by a start (only recovery resumes a PENDING
one). Running and finishing what was started is ``workflows.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tether.engine import auth, tracing, validation
from tether.engine.bridge import loop_free, run_sync
from tether.engine.context import (
    WorkflowContext,
    current_debounce,
    current_step,
    current_workflow,
    rejects_reuse,
    start_attributes,
    start_timeout,
    take_assigned_id,
)
from tether.engine.ids import new_workflow_id
from tether.engine.inputs import encode_inputs
from tether.engine.registry import RegisteredWorkflow, method_target
from tether.engine.runtime import Runtime
from tether.engine.start_insert import insert_start, insert_start_blocking
from tether.engine.timeouts import start_deadline
from tether.errors import ConflictingWorkflowError
from tether.serialization import format_name
from tether.storage.base import OperationRow, WorkflowRow
from tether.storage.checkpoints import RecordOperation
from tether.types import WorkflowStatusString


@dataclass
class StartOptions:
    """How a workflow is started: its ID, queue, delay and so on (all optional)."""

    workflow_id: str | None = None
    queue_name: str | None = None
    deduplication_id: str | None = None
    priority: int = 0
    delay_until_epoch_ms: int | None = None
    timeout_ms: int | None = None
    authenticated_user: str | None = None  # None: the identity the starting code acts for (engine/auth.py)
    authenticated_roles: list[str] | None = None
    app_version: str | None = None
    debounced: bool = False  # a debounced start: later debounces of its key push it back (engine/debouncer.py)
    debounce_deadline_ms: int | None = None
    queue_partition_key: str | None = None
    # "return-existing": an enqueue whose deduplication ID is held gets a handle on the holder instead of an
    # error ("reject", the default, raises QueueDeduplicatedError).
    duplication_policy: str | None = None
    # "reject": a start whose ID already exists raises DBOSWorkflowIDInUseError instead of returning it.
    reuse_policy: str | None = None
    attributes: str | None = None  # JSON text; None: those of the enclosing SetWorkflowAttributes block
    application_name: str | None = None  # the application it belongs to; None: the starting process's


@dataclass
class Start:
    """The outcome of a durable start: the ID, and whether this call created (and so must run) it."""

    workflow_id: str
    created: bool
    reg: RegisteredWorkflow
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    recorded: dict[int, OperationRow] | None = None
    deadline_ms: int | None = None  # when it is cancelled if still running (see engine/timeouts.py)
    from_storage: bool = False  # the arguments were decoded from the database (recovery, a queue)
    result_fid: int | None = None  # the parent's step number for reading its result (direct calls)
    detached: bool = False  # started in the background: nobody waits for this execution's outcome
    trace_context: str | None = None  # the starter's W3C trace context (engine/tracing.py)
    queue_name: str | None = None  # only names the workflow's span
    authenticated_user: str | None = None  # the identity it runs as (engine/auth.py)
    authenticated_roles: list[str] | None = None
    assumed_role: str | None = None


_PENDING = WorkflowStatusString.PENDING.value  # read once: an enum member's .value is a property call
_NO_OPTIONS = StartOptions()  # a direct call's, shared: options are never changed once handed to a start


async def prepare_start(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any],
                        opts: StartOptions | None = None, *, read_result: bool = False) -> Start:
    """Record a workflow start durably (or find the one already recorded under its ID). With ``read_result``
    (a direct call from a workflow), the step number of the result read is drawn right after the start's,
    before anything is awaited, so that concurrent operations of the parent cannot take it in between.

    Raises:
        SerializationError: the arguments cannot be stored; nothing is written.
        ConflictingWorkflowError: the ID belongs to a workflow of another name, or is the calling workflow's
            own ID (a workflow cannot be its own child: it would wait for itself forever).
        InvalidArgumentError, ArgumentTypeError: a bad ID, queue name, deduplication ID, workflow name or
            application version (see :mod:`tether.engine.validation`); nothing is written.
    """
    planned = _plan_start(rt, reg, args, kwargs, opts or StartOptions(), read_result)
    if isinstance(planned, Start):
        return planned
    created, holder = await insert_start(rt, planned.row, planned.opts.duplication_policy, planned.reject_reuse)
    if planned.parent is not None:
        await rt.checkpoint(planned.child_operation(holder or planned.row.workflow_uuid))
    return _started(rt, planned, created, holder)


def prepare_start_blocking(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any],
                           *, read_result: bool = False) -> Start:
    """:func:`prepare_start` of a direct call (no options, so no duplication policy) from synchronous code:
    without a coroutine where no event loop runs in this thread.

    Raises:
        The same as :func:`prepare_start`.
    """
    if not loop_free():
        return run_sync(prepare_start(rt, reg, args, kwargs, read_result=read_result))
    planned = _plan_start(rt, reg, args, kwargs, _NO_OPTIONS, read_result)
    if isinstance(planned, Start):
        return planned
    created = insert_start_blocking(rt, planned.row, planned.reject_reuse)
    if planned.parent is not None:
        rt.checkpoint_blocking(planned.child_operation(planned.row.workflow_uuid))
    return _started(rt, planned, created, None)


@dataclass
class _Planned:
    """A start ready to be written: its row, and for a child its parent's step numbers."""

    reg: RegisteredWorkflow
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    opts: StartOptions
    row: WorkflowRow
    reject_reuse: bool
    parent: WorkflowContext | None
    function_id: int
    result_fid: int | None

    def child_operation(self, wfid: str) -> RecordOperation:
        """The parent's checkpoint of this child's start (``wfid``: the child's ID, or the holder's)."""
        assert self.parent is not None
        now = self.row.created_at
        return RecordOperation(self.parent.workflow_id, OperationRow(
            function_id=self.function_id, function_name=self.reg.name, child_workflow_id=wfid, started_at=now,
            completed_at=now))


def plan_unattached_start(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any],
                          opts: StartOptions) -> WorkflowRow:
    """The row of a start that no workflow records as its child (one written in a caller's own transaction),
    with every check of :func:`prepare_start` made and nothing written.

    Raises:
        The errors of :func:`prepare_start` that come before writing.
    """
    planned = _plan_start(rt, reg, args, kwargs, opts, False, as_child=False)
    assert isinstance(planned, _Planned)
    return planned.row


def _plan_start(rt: Runtime, reg: RegisteredWorkflow, args: tuple[Any, ...], kwargs: dict[str, Any],
                opts: StartOptions, read_result: bool, *, as_child: bool = True) -> _Planned | Start:
    """The row a start writes (its checks made, nothing written), or the Start of a child already recorded."""
    debounce = current_debounce()
    if debounce is not None:
        opts = dataclasses.replace(opts, deduplication_id=debounce.deduplication_id, debounced=True,
                                   delay_until_epoch_ms=debounce.delay_until_ms,
                                   debounce_deadline_ms=debounce.deadline_ms,
                                   application_name=debounce.application_name or opts.application_name)
    parent = current_workflow() if as_child and current_step() is None else None
    function_id = 0
    assigned = opts.workflow_id or take_assigned_id()
    result_fid = None
    if assigned is not None:
        validation.workflow_id(assigned)
    validation.text(reg.name, "workflow_name")
    for argument in ("queue_name", "deduplication_id", "app_version", "authenticated_user", "queue_partition_key"):
        if (value := getattr(opts, argument)) is not None:  # a direct call's are all None
            validation.optional_text(value, argument)
    if parent is not None:
        function_id = parent.next_function_id()
        if read_result:
            result_fid = parent.next_function_id()
        recorded = parent.recorded.get(function_id)
        if recorded is not None and recorded.child_workflow_id:
            return Start(recorded.child_workflow_id, False, reg, args, kwargs, result_fid=result_fid)
    wfid = assigned or (f"{parent.workflow_id}-{function_id}" if parent is not None else new_workflow_id())
    if parent is not None and wfid == parent.workflow_id:
        raise ConflictingWorkflowError(wfid, "a workflow cannot start itself as its own child")
    # A method's instance (or class) is not stored: it is found again by its registered names.
    class_name, config_name = method_target(reg, args)
    inputs = encode_inputs(args[1:] if class_name is not None else args, kwargs, reg.serialization)
    now_us = rt.clock.now_us()
    now = now_us // 1000
    if opts.delay_until_epoch_ms is not None:
        status = WorkflowStatusString.DELAYED.value
    elif opts.queue_name is not None:
        status = WorkflowStatusString.ENQUEUED.value
    else:
        status = _PENDING
    own_block, block_timeout = start_timeout()
    timeout_ms = opts.timeout_ms if opts.timeout_ms is not None else block_timeout
    deadline = start_deadline(now, timeout_ms, status != _PENDING,
                              parent.deadline_ms if parent is not None else None,
                              own_block or opts.timeout_ms is not None)
    identity = auth.current_identity()
    row = WorkflowRow(
        workflow_uuid=wfid, status=status, name=reg.name, inputs=inputs, class_name=class_name,
        config_name=config_name,
        executor_id=rt.settings.executor_id, application_version=opts.app_version or rt.application_version,
        created_at=now, created_at_us=now_us, updated_at=now, queue_name=opts.queue_name,
        deduplication_id=opts.deduplication_id,
        priority=opts.priority, delay_until_epoch_ms=opts.delay_until_epoch_ms,
        workflow_timeout_ms=timeout_ms, workflow_deadline_epoch_ms=deadline,
        authenticated_user=opts.authenticated_user or identity.user,
        authenticated_roles=auth.encode_roles(opts.authenticated_roles if opts.authenticated_roles is not None
                                              else identity.roles),
        assumed_role=identity.assumed_role,
        parent_workflow_id=parent.workflow_id if parent is not None else None,
        serialization=format_name(reg.serialization),
        started_at_epoch_ms=now if status == _PENDING else None,
        started_at_us=now_us if status == _PENDING else None,
        # attempts count executions, this first one included (as DBOS counts them)
        recovery_attempts=1 if status == _PENDING else 0,
        is_debounced=int(opts.debounced), debounce_deadline_epoch_ms=opts.debounce_deadline_ms,
        queue_partition_key=opts.queue_partition_key,
        attributes=opts.attributes if opts.attributes is not None else start_attributes(),
        application_name=opts.application_name or rt.settings.name, trace_context=tracing.capture(),
    )
    return _Planned(reg, args, kwargs, opts, row, opts.reuse_policy == "reject" or rejects_reuse(wfid), parent,
                    function_id, result_fid)


def _started(rt: Runtime, planned: _Planned, created: bool, holder: str | None) -> Start:
    row = planned.row
    if holder is not None:  # return-existing: the caller (and a parent's checkpoint) gets the holder
        return Start(holder, False, planned.reg, planned.args, planned.kwargs, result_fid=planned.result_fid)
    if created:
        rt.notify("wf", row.workflow_uuid, row.status)
    return Start(row.workflow_uuid, created and row.status == _PENDING, planned.reg, planned.args, planned.kwargs,
                 {}, row.workflow_deadline_epoch_ms, result_fid=planned.result_fid, trace_context=row.trace_context,
                 authenticated_user=row.authenticated_user,
                 authenticated_roles=auth.decode_roles(row.authenticated_roles), assumed_role=row.assumed_role)
